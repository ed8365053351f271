/*
 * spawn.c — run the C compiler: one process, or several side by side (a trainer built
 * for several x86-64 levels), each with its output collected, all of a batch in one
 * process group that rnnc's signal handler reaches.
 *
 * The processes start through fork/execvp with argument vectors built by the caller:
 * no shell is involved. The group is registered with rnnc_signal_child: a SIGINT,
 * SIGTERM or SIGHUP caught by rnnc reaches every process of it (a driver's cc1 and ld,
 * the children of a wrapper script), not just the ones rnnc started, and whatever is
 * still there KILL_AFTER seconds later gets SIGKILL. rnnc then stops reading their
 * output at once: it does not wait for a straggler outside the group that may still
 * hold a pipe.
 */
#include "rnnc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define KILL_AFTER 2.0
#define MAX_BATCH 8

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* A started process: its output pipe (-1 once drained) and its exec-error pipe. */
typedef struct {
    pid_t pid;
    int out_fd, exec_fd;
} child;

/* Start job j in group pgid (0: a new group it leads). 0, or -1 with err. */
static int start(rnnc_job *j, pid_t pgid, child *c, char *err, size_t errlen) {
    int pfd[2], efd[2];
    if (pipe(pfd) != 0) {
        snprintf(err, errlen, "rnnc: cannot run %s: pipe: %s", j->argv[0], strerror(errno));
        return -1;
    }
    /* A close-on-exec pipe tells apart "exec failed" (the child writes errno into it)
     * from "the compiler ran and failed" (exec closes it unwritten). */
    if (pipe(efd) != 0) {
        snprintf(err, errlen, "rnnc: cannot run %s: pipe: %s", j->argv[0], strerror(errno));
        close(pfd[0]);
        close(pfd[1]);
        return -1;
    }
    fcntl(efd[1], F_SETFD, FD_CLOEXEC);
    fcntl(pfd[0], F_SETFD, FD_CLOEXEC);
    fcntl(efd[0], F_SETFD, FD_CLOEXEC);

    fflush(NULL);   /* nothing buffered gets written twice by the child */
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "rnnc: cannot run %s: fork: %s", j->argv[0], strerror(errno));
        close(pfd[0]);
        close(pfd[1]);
        close(efd[0]);
        close(efd[1]);
        return -1;
    }
    if (pid == 0) {
        /* Child: only async-signal-safe calls until exec (which resets rnnc's handlers
         * to the default; an ignored signal stays ignored). */
        setpgid(0, pgid);
        dup2(pfd[1], STDOUT_FILENO);
        dup2(pfd[1], STDERR_FILENO);
        close(pfd[1]);
        int null = open("/dev/null", O_RDONLY);   /* the compiler reads no input */
        if (null >= 0) {
            dup2(null, STDIN_FILENO);
            close(null);
        }
        execvp(j->argv[0], j->argv);
        int e = errno;
        ssize_t w = write(efd[1], &e, sizeof e);
        (void)w;
        _exit(127);
    }
    setpgid(pid, pgid ? pgid : pid);   /* also here: whichever runs first, the group exists before any signal */
    close(pfd[1]);
    close(efd[1]);
    c->pid = pid;
    c->out_fd = pfd[0];
    c->exec_fd = efd[0];
    return 0;
}

/* Drain the children's output to the end (a full pipe would stall a compiler), keeping
 * the beginning of each, where the first error is; after a caught signal, SIGKILL the
 * group KILL_AFTER seconds later and give up a second after that. */
static void drain(rnnc_job *jobs, child *c, int n, pid_t pgid) {
    double kill_at = 0, give_up_at = 0;
    int open_fds = n;
    while (open_fds > 0) {
        int timeout = -1;
        if (rnnc_interrupted()) {   /* the handler has passed the signal on to the group */
            double t = now_s();
            if (kill_at == 0) {
                kill_at = t + KILL_AFTER;
            } else if (give_up_at == 0 && t >= kill_at) {
                kill(-pgid, SIGKILL);
                give_up_at = t + 1.0;
            } else if (give_up_at != 0 && t >= give_up_at) {
                break;
            }
            timeout = 50;
        }
        struct pollfd p[MAX_BATCH];
        for (int i = 0; i < n; i++) p[i] = (struct pollfd){c[i].out_fd, POLLIN, 0};
        int pr = poll(p, (nfds_t)n, timeout);
        if (pr < 0 && errno != EINTR) break;
        if (pr <= 0) continue;
        for (int i = 0; i < n; i++) {
            if (c[i].out_fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            char buf[4096];
            ssize_t r = read(c[i].out_fd, buf, sizeof buf);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) {
                close(c[i].out_fd);
                c[i].out_fd = -1;
                open_fds--;
                continue;
            }
            rnnc_job *j = &jobs[i];
            size_t take = (size_t)r;
            if (take > j->outcap - 1 - j->outlen) take = j->outcap - 1 - j->outlen;
            memcpy(j->out + j->outlen, buf, take);
            j->outlen += take;
        }
    }
    for (int i = 0; i < n; i++) {
        if (c[i].out_fd >= 0) close(c[i].out_fd);
        if (give_up_at != 0) kill(c[i].pid, SIGKILL);   /* should one have left the group */
    }
}

/* One batch of at most MAX_BATCH jobs, side by side in one group. */
static int run_batch(rnnc_job *jobs, int n, char *err, size_t errlen) {
    child c[MAX_BATCH];
    int started = 0, rc = 0;
    for (; started < n; started++)
        if (start(&jobs[started], started ? c[0].pid : 0, &c[started], err, errlen) != 0) {
            rc = -1;
            break;
        }
    if (started == 0) return -1;
    rnnc_signal_child(c[0].pid, 1);
    if (rc != 0) kill(-c[0].pid, SIGKILL);   /* one could not start: the others are not wanted */
    drain(jobs, c, started, c[0].pid);
    /* Reaped last, the group's leader keeps the group alive for the others. */
    for (int i = started - 1; i >= 0; i--) {
        int e = 0;
        ssize_t r;
        do r = read(c[i].exec_fd, &e, sizeof e);
        while (r < 0 && errno == EINTR);
        close(c[i].exec_fd);
        int status = 0;
        while (waitpid(c[i].pid, &status, 0) < 0 && errno == EINTR) {}
        jobs[i].status = status;
        jobs[i].out[jobs[i].outlen] = 0;
        if (r == (ssize_t)sizeof e && rc == 0) {
            snprintf(err, errlen, "rnnc: cannot run the C compiler '%s': %s (set CC to a C compiler)", jobs[i].argv[0],
                    strerror(e));
            rc = -1;
        }
    }
    rnnc_signal_child(0, 0);
    return rc;
}

int rnnc_run_jobs(rnnc_job *jobs, int n, int parallel, char *err, size_t errlen) {
    if (parallel < 1) parallel = 1;
    if (parallel > MAX_BATCH) parallel = MAX_BATCH;
    for (int i = 0; i < n; i++) {
        jobs[i].outlen = 0;
        jobs[i].status = -1;
        if (jobs[i].outcap) jobs[i].out[0] = 0;
    }
    for (int at = 0; at < n; at += parallel) {
        if (rnnc_interrupted()) return 0;   /* the caller sees the signal and stops */
        int k = n - at < parallel ? n - at : parallel;
        if (run_batch(jobs + at, k, err, errlen) != 0) return -1;
        for (int i = at; i < at + k; i++)   /* a failed job ends the run: its output is the message */
            if (!WIFEXITED(jobs[i].status) || WEXITSTATUS(jobs[i].status) != 0) return 0;
    }
    return 0;
}
