/*
 * atomic_file.c — write a file so that readers see the old contents or the new ones,
 * never a torn mix (safetensors.h, "atomic files").
 *
 * The data goes to "PATH.tmp.PID.XXXXXX" (mkstemp) in the directory of PATH, because
 * rename(2) is atomic only within one file system. Commit is fflush, a check of the
 * stream's error flag, fsync, fclose, rename, then fsync of the directory so that the
 * rename itself is durable. Any failure before the rename removes the temporary and
 * leaves the previous file as it was. From the mkstemp to the rename (or the removal)
 * the calling thread blocks the signals that end a process by default (SIGHUP,
 * SIGINT, SIGQUIT, SIGTERM; rnn_stop_signals), so that one of them cannot leave the
 * temporary behind: it is delivered when the file is complete, or gone. (The worker
 * threads of rnn_parallel_for block them for good, so the kernel cannot hand the
 * signal to one of them instead.) SIGKILL still can. Nothing here takes locks: two
 * writers of the same PATH each rename a complete file, and the last one wins.
 */
#include "core/atomic_file.h"
#include "core/errors.h"
#include "core/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void rnn_ignore_sigxfsz(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGXFSZ, &sa, NULL);
}

void rnn_stop_signals(sigset_t *set) {
    sigemptyset(set);
    sigaddset(set, SIGHUP);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGQUIT);
    sigaddset(set, SIGTERM);
}

static void block_stop_signals(sigset_t *old) {
    sigset_t set;
    rnn_stop_signals(&set);
    pthread_sigmask(SIG_BLOCK, &set, old);
}

static void restore_signals(const sigset_t *old) { pthread_sigmask(SIG_SETMASK, old, NULL); }

/* The directory part of path ("." when there is none), into buf. */
static void dir_of(const char *path, char *buf, size_t cap) {
    const char *slash = strrchr(path, '/');
    if (!slash) snprintf(buf, cap, ".");
    else if (slash == path) snprintf(buf, cap, "/");
    else snprintf(buf, cap, "%.*s", (int)(slash - path), path);
}

/* mkstemp creates the file 0600. A checkpoint should get the mode a plain fopen would
 * give it: the old file's permission bits when replacing one (only those: never its
 * setuid, setgid or sticky bit, since rnnc's files are data), else 0666 minus the
 * umask. The umask is read from /proc (Linux) because the only portable way, umask(2)
 * twice, is racy in a threaded program; 0644 (the usual umask 022) when /proc is
 * unavailable. */
static mode_t new_file_mode(const char *path) {
    struct stat st;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) return st.st_mode & 0777;
    mode_t mask = 022;
    FILE *f = fopen("/proc/self/status", "r");
    if (f) {
        char line[256];
        while (fgets(line, sizeof line, f))
            if (!strncmp(line, "Umask:", 6)) {
                mask = (mode_t)strtol(line + 6, NULL, 8);
                break;
            }
        fclose(f);
    }
    return 0666 & ~mask;
}

/* Create "PATH.tmp.PID.XXXXXX" beside path. Returns the fd, or -1 with errno set and
 * the message "PATH: cannot write: cannot create a file in DIR: why" in err. */
static int make_temp(const char *path, char *tmp, size_t cap, char *err, size_t errlen) {
    int n = snprintf(tmp, cap, "%s.tmp.%ld.XXXXXX", path, (long)getpid());
    int fd = -1;
    if (n < 0 || (size_t)n >= cap) errno = ENAMETOOLONG;
    else fd = mkstemp(tmp);
    if (fd < 0) {
        const int e = errno;
        char dir[4096];
        tmp[0] = 0;
        dir_of(path, dir, sizeof dir);
        rnn_fail(err, errlen, "%s: cannot write: cannot create a file in %s: %s", path, dir, strerror(e));
        errno = e;
    }
    return fd;
}

static int check_target(const char *path, char *err, size_t errlen) {
    struct stat st;
    if (!path || !path[0]) {
        rnn_fail(err, errlen, "(empty path): cannot write: no file name given");
        return -1;
    }
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        rnn_fail(err, errlen, "%s: cannot write: is a directory", path);
        return -1;
    }
    return 0;
}

int rnn_atomic_open(rnn_atomic_file *a, const char *path, char *err, size_t errlen) {
    memset(a, 0, sizeof *a);
    if (check_target(path, err, errlen)) return -1;
    if (strlen(path) >= sizeof a->path) {
        rnn_fail(err, errlen, "%.200s...: cannot write: %s", path, strerror(ENAMETOOLONG));
        return -1;
    }
    strcpy(a->path, path);
    block_stop_signals(&a->old_mask);
    int fd = make_temp(path, a->tmp, sizeof a->tmp, err, errlen);
    if (fd < 0) {
        restore_signals(&a->old_mask);
        return -1;
    }
    if (fchmod(fd, new_file_mode(path)) != 0 || !(a->f = fdopen(fd, "wb"))) {
        int e = errno;
        close(fd);
        unlink(a->tmp);
        a->tmp[0] = 0;
        restore_signals(&a->old_mask);
        rnn_fail(err, errlen, "%s: cannot write: %s", path, strerror(e));
        return -1;
    }
    a->masked = 1;
    return 0;
}

/* The end of a file's write, committed or not: the signals come through again. */
static void unmask(rnn_atomic_file *a) {
    if (a->masked) restore_signals(&a->old_mask);
    a->masked = 0;
}

/* glibc drops a stream's buffer when a write fails, and a later fflush then succeeds:
 * by commit time only the error flag is left and errno is whatever came after. To name
 * the cause, try to append one byte at the end of the temporary (which is about to be
 * deleted anyway): a full disk or a file size limit refuses it with the same errno.
 * Failing that, errno as it was when commit was called (usually still the failed
 * write's), else a generic EIO. */
static int lost_write_errno(FILE *f, int errno_at_entry) {
    int fd = fileno(f);
    struct stat st;
    if (fstat(fd, &st) == 0 && pwrite(fd, "", 1, st.st_size) < 0 && errno != EBADF) return errno;
    return errno_at_entry ? errno_at_entry : EIO;
}

int rnn_atomic_commit(rnn_atomic_file *a, char *err, size_t errlen) {
    int errno_at_entry = errno;
    if (!a->f) {
        rnn_fail(err, errlen, "%s: cannot write: the file is not open", a->path);
        return -1;
    }
    int e = 0;
    if (fflush(a->f) != 0) e = errno;
    else if (ferror(a->f)) e = lost_write_errno(a->f, errno_at_entry);
    else if (fsync(fileno(a->f)) != 0) e = errno;
    if (fclose(a->f) != 0 && !e) e = errno;
    a->f = NULL;
    if (!e && rename(a->tmp, a->path) != 0) e = errno;
    if (e) {
        unlink(a->tmp);
        a->tmp[0] = 0;
        unmask(a);
        rnn_fail(err, errlen, "%s: cannot write: %s", a->path, strerror(e));
        return -1;
    }
    a->tmp[0] = 0;
    unmask(a);

    /* Make the rename durable. Some file systems cannot fsync a directory (EINVAL);
     * there is nothing more to do on those. */
    char dir[4096];
    dir_of(a->path, dir, sizeof dir);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    if (dfd < 0) e = errno;
    else if (fsync(dfd) != 0 && errno != EINVAL) e = errno;
    if (dfd >= 0) close(dfd);
    if (e) {
        /* The new file is in place, so the old one cannot be kept any more; report
         * that it may not survive a crash. */
        rnn_fail(err, errlen, "%s: written, but syncing its directory failed: %s", a->path,
                 strerror(e));
        return -1;
    }
    return 0;
}

void rnn_atomic_abort(rnn_atomic_file *a) {
    if (a->f) fclose(a->f);
    a->f = NULL;
    if (a->tmp[0]) unlink(a->tmp);
    a->tmp[0] = 0;
    unmask(a);
}

int rnn_path_writable(const char *path, char *err, size_t errlen) {
    if (check_target(path, err, errlen)) return -1;
    char tmp[4096 + 64];
    sigset_t old;
    block_stop_signals(&old);
    int fd = make_temp(path, tmp, sizeof tmp, err, errlen);
    if (fd >= 0) {
        close(fd);
        unlink(tmp);
    }
    restore_signals(&old);
    return fd < 0 ? -1 : 0;
}

int rnn_write_file_atomic(const char *path, const void *data, size_t len, char *err, size_t errlen) {
    rnn_atomic_file af;
    if (rnn_atomic_open(&af, path, err, errlen) != 0) return -1;
    (void)fwrite(data, 1, len, af.f);   /* a short write shows in the commit's flush and checks */
    return rnn_atomic_commit(&af, err, errlen);
}
