/* verbs_check: shared constants, types and prototypes (see main.c for the
 * overall design and the command line). */
#ifndef VERBS_CHECK_COMMON_H
#define VERBS_CHECK_COMMON_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stddef.h>
#include <stdint.h>

#include <infiniband/verbs.h>

#define BUF_SIZE (4u << 20)       /* whole buffer of each side */
#define MAIN_LEN (2u << 20)       /* [0, 2 MiB): MR with every access */
#define STALE_OFF (2u << 20)      /* [2 MiB, +64 KiB): MR registered then deregistered */
#define NOACC_OFF (3u << 20)      /* [3 MiB, +64 KiB): MR with LOCAL_WRITE only */
#define SMALL_LEN (64u << 10)
#define LINE_MAX_LEN 1024
#define POLL_TIMEOUT_MS 10000
#define QP_DEPTH 64
#define MAX_SGE 4
#define MAX_INLINE 64

/* ------------------------------------------------------------ util.c */

/* options (set by main) and the failure count */
extern const char *dev_name;
extern int ib_port;
extern int gid_idx;
extern int failures;
extern int verbose;

void ok(const char *name);
void not_ok(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
uint64_t now_ms(void);

/* deterministic patterns and checksums */
void fill_pattern(uint8_t *p, size_t len, uint64_t seed);
uint64_t fnv1a(const uint8_t *p, size_t len);
uint64_t pattern_hash(size_t len, uint64_t seed);

/* ------------------------------------------------------------ chan.c */

struct chan {
	int fd;
	char buf[LINE_MAX_LEN * 4];
	size_t len;
};

void chan_send(struct chan *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int chan_recv(struct chan *c, char *out, size_t cap);
void chan_expect(struct chan *c, char *out, size_t cap);
void set_timeouts(int fd);
int tcp_connect(const char *host, int port);
int tcp_listen(int port);

/* ------------------------------------------------------------ verbs.c */

struct dev {
	struct ibv_context *ctx;
	struct ibv_pd *pd;
	struct ibv_port_attr port;
	struct ibv_device_attr attr;
	union ibv_gid gid;
	uint8_t *buf;
	struct ibv_mr *mr;      /* [0, MAIN_LEN) */
	struct ibv_mr *noacc;   /* [NOACC_OFF, +SMALL_LEN), LOCAL_WRITE only */
	uint32_t stale_key;     /* key of a deregistered MR over [STALE_OFF, +SMALL_LEN) */
};

struct conn {
	struct ibv_cq *cq;
	struct ibv_qp *qp;
	uint32_t psn;
	uint32_t max_inline;
};

struct remote_qp {
	uint32_t lid, qpn, psn;
	union ibv_gid gid;
};

struct path {
	int min_rnr_timer;
	int rnr_retry;
	int timeout;
	int retry_cnt;
};

extern const struct path default_path;
extern const unsigned ALL_ACCESS;

void gid_to_hex(const union ibv_gid *g, char *out);
int hex_to_gid(const char *s, union ibv_gid *g);
void dev_open(struct dev *d);
const char *qp_state_str(int s);
int qp_state(struct ibv_qp *qp);
int conn_create(struct dev *d, struct conn *c);
void conn_destroy(struct conn *c);
int conn_init(struct conn *c, int access);
int conn_connect(struct dev *d, struct conn *c, const struct remote_qp *r, const struct path *p);
int poll_n(struct ibv_cq *cq, struct ibv_wc *wc, int n, int timeout_ms);
int post_one(struct conn *c, enum ibv_wr_opcode op, uint64_t wr_id, struct ibv_sge *sge,
	     int nsge, uint64_t raddr, uint32_t rkey, unsigned flags);
int do_one(struct conn *c, enum ibv_wr_opcode op, struct ibv_sge *sge, int nsge,
	   uint64_t raddr, uint32_t rkey, unsigned flags, char *why, size_t whylen);
struct ibv_sge lsge(struct dev *d, uint64_t off, uint32_t len);

/* ------------------------------------------------------------ server.c */

void serve(struct dev *d, struct chan *ch);

/* ------------------------------------------------------------ peer.c */

struct peer {
	struct chan ch;
	const char *host;
	uint32_t lid;
	union ibv_gid gid;
	uint64_t addr, len, noacc_addr;
	uint32_t rkey, noacc_rkey, stale_rkey;
	int atomics;
};

/* a completion polled at the peer */
struct rwc {
	uint64_t wr_id;
	int status, opcode;
	unsigned byte_len, imm, flags;
};

/* The data checks share one connected pair; an error check gets fresh QPs. */
struct client {
	struct dev *d;
	struct peer *p;
	struct conn c;
	uint64_t seed;
};

void peer_open(struct peer *p, const char *host, int port);
void peer_close(struct peer *p);
uint64_t peer_sum(struct peer *p, uint64_t off, uint64_t len);
void peer_cmd(struct peer *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void peer_fill(struct peer *p, uint64_t off, uint64_t len, uint64_t seed);
int peer_try_cmd(struct peer *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
uint64_t peer_get64(struct peer *p, uint64_t off);
int peer_poll(struct peer *p, int n, int timeout_ms, struct rwc *out);
int peer_state(struct peer *p);
int pair_connect(struct dev *d, struct peer *p, struct conn *c, unsigned peer_access,
		 unsigned peer_min_rnr, const struct path *path, int *peer_ret);
void ensure_good(struct client *cl);

/* ------------------------------------------------------------ data.c */

void check_write(struct client *cl, uint32_t len, int with_imm);
void check_read(struct client *cl, uint32_t len);
void check_send(struct client *cl, const char *name, const uint32_t *slen, int nsge,
		const uint64_t *roffs, const uint32_t *rlens, int nrsge, int inl);
void check_atomics(struct client *cl);

/* ------------------------------------------------------------ errors.c */

void check_error(struct client *cl, const char *name, unsigned peer_access, uint64_t raddr,
		 uint32_t rkey, uint32_t lkey, int want_status, uint64_t watch_off, uint32_t watch_len);
void check_wrong_state(struct client *cl);
void check_rnr(struct client *cl);

/* ------------------------------------------------------------ order.c */

void serve_echo(struct dev *d, struct conn *c, struct chan *ch, unsigned n, unsigned len);
void check_order(struct client *cl, unsigned n, unsigned len);

/* ------------------------------------------------------------ events.c */

void check_events(struct client *cl);

/* ------------------------------------------------------------ client.c, wall.c */

void run_client(struct dev *d, const char *host, int port);
void run_wall(struct dev *d, const char *peer_host, const char *foreign_host, int port);

#endif
