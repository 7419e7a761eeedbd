/* `session ITERS`: a new router session (get_device_list + open_device +
 * alloc_pd) and its teardown, in fresh processes and in a warm one. */
#include "vc.h"
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

/* One open/close cycle; times in µs. Returns 0 or -1 (message printed). */
static int session_cycle(double *setup, double *teardown)
{
	struct vc_dev d;
	double t0 = now_us(), t1;

	if (vc_dev_open(&d))
		return -1;
	t1 = now_us();
	*setup = t1 - t0;
	if (vc_dev_close(&d))
		return -1;
	*teardown = now_us() - t1;
	return 0;
}

/* One cycle in a new child process: the child's verbs library has no
 * session yet, exactly like a freshly started application. */
static int session_cycle_forked(double *setup, double *teardown)
{
	double t[2];
	int p[2], status, ret = -1;
	ssize_t got;
	pid_t pid;

	if (pipe(p)) {
		fail("pipe");
		return -1;
	}
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		fail("fork");
		goto out_pipe;
	}
	if (pid == 0) {
		close(p[0]);
		if (session_cycle(&t[0], &t[1]) || write(p[1], t, sizeof(t)) != sizeof(t))
			_exit(1);
		_exit(0);
	}
	close(p[1]);
	p[1] = -1;
	got = read(p[0], t, sizeof(t));
	if (waitpid(pid, &status, 0) < 0) {
		fail("waitpid");
		goto out_pipe;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || got != sizeof(t)) {
		fprintf(stderr, "verbs_control: session child failed (status 0x%x)\n", status);
		goto out_pipe;
	}
	*setup = t[0];
	*teardown = t[1];
	ret = 0;
out_pipe:
	close(p[0]);
	if (p[1] >= 0)
		close(p[1]);
	return ret;
}

int cmd_session(long iters)
{
	double *v = calloc(4 * (size_t)iters, sizeof(*v));
	double *cold_setup = v, *cold_down = v + iters, *warm_setup = v + 2 * iters, *warm_down = v + 3 * iters;
	double s, t;	/* warm-up cycles, not recorded */
	int ret = 1;

	if (!v) {
		fail("calloc");
		return 1;
	}
	/* warm-up child: page cache, the router's first accept */
	if (session_cycle_forked(&s, &t))
		goto out;
	for (long i = 0; i < iters; i++)
		if (session_cycle_forked(&cold_setup[i], &cold_down[i]))
			goto out;
	/* the first cycle here opens this process's session: not "warm" */
	if (session_cycle(&s, &t))
		goto out;
	for (long i = 0; i < iters; i++)
		if (session_cycle(&warm_setup[i], &warm_down[i]))
			goto out;
	printf("{\"mode\":\"session\",\"iters\":%ld,", iters);
	print_samples("setup_us", cold_setup, iters, 0);
	print_samples("teardown_us", cold_down, iters, 0);
	print_samples("warm_setup_us", warm_setup, iters, 0);
	print_samples("warm_teardown_us", warm_down, iters, 1);
	printf("}\n");
	ret = 0;
out:
	free(v);
	return ret;
}
