/* Minimal intrusive doubly linked list (the shim links no utility library). */
#ifndef FFS_LIST_H
#define FFS_LIST_H

#include <stddef.h>

struct ffs_list {
	struct ffs_list *next, *prev;
};

#define FFS_LIST_INIT(name) { &(name), &(name) }

static inline void ffs_list_init(struct ffs_list *h)
{
	h->next = h->prev = h;
}

static inline void ffs_list_add(struct ffs_list *h, struct ffs_list *n)
{
	n->next = h;
	n->prev = h->prev;
	h->prev->next = n;
	h->prev = n;
}

static inline void ffs_list_del(struct ffs_list *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	n->next = n->prev = n;
}

#define ffs_container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))

#define ffs_list_for_each(h, it) \
	for (struct ffs_list *it = (h)->next; it != (h); it = it->next)

#endif
