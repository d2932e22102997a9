/*
 * paysig.server._sysio: the system calls of an audit write and of the
 * rate-limit table's lock, made without giving up the GIL, and the Mutex of
 * the short critical sections on the path of every call (audit.py and
 * ratelimit.py decide what to do and what a result means; this file only
 * makes the calls).
 *
 * A Python os.write/os.fstat/fcntl.flock releases the GIL around its system
 * call, and on a busy server each release hands the GIL to another thread:
 * a context switch per call, five or six of them per audit write. These
 * calls take microseconds on a local file, so they are made with the GIL
 * held; only what may wait long (a lock another process holds, a full pipe)
 * is waited for without it.
 *
 * append(fd, data, torn, path, dev, ino) -> (written, torn, at_path)
 *   A regular file opened O_APPEND, shared with the other worker processes:
 *   under flock(fd) it checks whether the file ends in a torn line (unless
 *   `torn` says so already; then data goes after a newline), appends data in
 *   one write(2) (a short write is continued), unlocks, then checks that
 *   the file at `path` is still the open one (st_dev, st_ino == dev, ino;
 *   path None: a file the process was given, such as its stdout).
 *   written: every byte is in the file; torn: the file now ends in a torn
 *   line of ours; at_path: the open file is the one at `path`.
 *
 * write_lines(fd, data) -> (written, torn)
 *   A pipe or terminal: data (whole lines) in writes of at most PIPE_BUF
 *   bytes, each cut at a line end, so the kernel never interleaves them
 *   with other writers' writes. A line longer than PIPE_BUF goes alone.
 *   Waits for room without the GIL.
 *
 * Mutex()
 *   A lock for the short critical sections of the audit write, the rate
 *   table, the in-flight counts and the flood gate, which run with the GIL.
 *   threading.Lock hands itself to a waiting thread on release; that thread
 *   then holds it while it waits for the GIL, every other thread that wants
 *   it waits in turn, and a busy server switches threads on every call (a
 *   lock convoy). A Mutex is taken only by a thread holding the GIL
 *   (pthread_mutex_trylock); a thread finding it held (its holder gave the
 *   GIL up inside) waits until it is free without the GIL and without
 *   keeping it, then tries again. So that a holder that gives the GIL up
 *   inside on every pass cannot keep it from the others, a waiter that has
 *   waited 1 ms goes before newcomers (as Go's sync.Mutex does). A waiting
 *   thread checks for signals every 50 ms (in the main thread their
 *   handlers run, and an exception they raise ends the wait). Not
 *   reentrant: acquiring it twice raises.
 *
 * lock(fd) / unlock(fd)
 *   A write lock on the whole file (fcntl F_SETLK: owned by the process, so
 *   it excludes other processes, not this process's threads), taken without
 *   the GIL only when another process holds it. OSError on failure.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/* Writes iov[0..n) whole (continuing after a short write); 0 when all went, else the errno. *done counts
   the bytes that went. */
static int write_all(int fd, struct iovec *iov, int n, size_t *done, int may_block) {
    *done = 0;
    for (;;) {
        while (n > 0 && iov->iov_len == 0) { /* nothing to write is written (writev would return 0: EIO) */
            iov++;
            n--;
        }
        if (n == 0)
            break;
        struct pollfd room = {fd, POLLOUT, 0};
        int wait = may_block && !(poll(&room, 1, 0) == 1 && (room.revents & POLLOUT));
        ssize_t w;
        if (wait) {
            Py_BEGIN_ALLOW_THREADS
            w = writev(fd, iov, n);
            Py_END_ALLOW_THREADS
        } else {
            w = writev(fd, iov, n);
        }
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        if (w == 0)
            return EIO;
        *done += (size_t)w;
        while (n > 0 && (size_t)w >= iov->iov_len) {
            w -= (ssize_t)iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0) {
            iov->iov_base = (char *)iov->iov_base + w;
            iov->iov_len -= (size_t)w;
        }
    }
    return 0;
}

/* Writes data[0..n), after a newline when *torn (the file ends in a torn line), and updates *torn: 0
   once all went; 1 when part of data went (the leading newline alone ends the torn line). 0 when all
   went, else the errno. */
static int write_fresh(int fd, const void *data, size_t n, int *torn, int may_block) {
    struct iovec iov[2] = {{"\n", 1}, {(void *)data, n}};
    int skip = *torn ? 0 : 1;
    size_t done;
    int err = write_all(fd, iov + skip, 2 - skip, &done, may_block);
    if (err == 0)
        *torn = 0;
    else if (done > 0)
        *torn = done > (size_t)(1 - skip);
    return err;
}

static int lock_file(int fd) {
    if (flock(fd, LOCK_EX | LOCK_NB) == 0)
        return 0;
    if (errno != EWOULDBLOCK && errno != EINTR)
        return -1;
    int r;
    Py_BEGIN_ALLOW_THREADS  /* another worker is appending: wait for it without the GIL */
    do
        r = flock(fd, LOCK_EX);
    while (r != 0 && errno == EINTR);
    Py_END_ALLOW_THREADS
    return r;
}

static PyObject *append(PyObject *self, PyObject *args) {
    (void)self;
    int fd, torn;
    Py_buffer data;
    PyObject *path;
    unsigned long long dev, ino;
    if (!PyArg_ParseTuple(args, "iy*pOKK", &fd, &data, &torn, &path, &dev, &ino))
        return NULL;
    if (path == Py_None) {
        Py_INCREF(path);
    } else if (!PyUnicode_FSConverter(path, &path)) {
        PyBuffer_Release(&data);
        return NULL;
    }
    int written = 0;
    if (lock_file(fd) == 0) {
        if (!torn) {
            struct stat st;
            char last;
            if (fstat(fd, &st) == 0 && st.st_size > 0 && pread(fd, &last, 1, st.st_size - 1) == 1)
                torn = last != '\n';  /* another process's torn line: start on a fresh line */
        }
        written = write_fresh(fd, data.buf, (size_t)data.len, &torn, 0) == 0;
        flock(fd, LOCK_UN);
    }
    struct stat at;
    int at_path = path == Py_None || (stat(PyBytes_AS_STRING(path), &at) == 0 &&
                                      (unsigned long long)at.st_dev == dev && (unsigned long long)at.st_ino == ino);
    Py_DECREF(path);
    PyBuffer_Release(&data);
    return Py_BuildValue("(NNN)", PyBool_FromLong(written), PyBool_FromLong(torn), PyBool_FromLong(at_path));
}

static PyObject *write_lines(PyObject *self, PyObject *args) {
    (void)self;
    int fd, torn;
    Py_buffer data;
    if (!PyArg_ParseTuple(args, "iy*p", &fd, &data, &torn))
        return NULL;
    const char *p = data.buf, *end = p + data.len;
    int written = 1;
    while (p < end || torn) {
        /* the longest run of whole lines that fits PIPE_BUF (with the leading newline), else one line
           alone; after a torn line, a newline alone when the first line does not fit with it (a line of
           PIPE_BUF bytes must not go in a write of PIPE_BUF + 1, which the kernel may interleave) */
        size_t room = PIPE_BUF - (torn ? 1 : 0);
        const char *cut = p;
        while (cut < end) {
            const char *nl = memchr(cut, '\n', (size_t)(end - cut));
            const char *next = nl ? nl + 1 : end;
            if ((size_t)(next - p) > room) {
                if (cut == p && !torn)
                    cut = next; /* longer than PIPE_BUF: alone */
                break;
            }
            cut = next;
        }
        if (write_fresh(fd, p, (size_t)(cut - p), &torn, 1) != 0) {
            written = 0;
            break;
        }
        p = cut;
    }
    PyBuffer_Release(&data);
    return Py_BuildValue("(NN)", PyBool_FromLong(written), PyBool_FromLong(torn));
}

static PyObject *record_lock(int fd, short type) {
    struct flock l = {.l_type = type, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
    if (fcntl(fd, F_SETLK, &l) == 0)
        return Py_NewRef(Py_None);
    if (type == F_WRLCK && (errno == EACCES || errno == EAGAIN || errno == EINTR)) {
        int r;
        Py_BEGIN_ALLOW_THREADS  /* another worker holds it: wait without the GIL */
        do
            r = fcntl(fd, F_SETLKW, &l);
        while (r != 0 && errno == EINTR);
        Py_END_ALLOW_THREADS
        if (r == 0)
            return Py_NewRef(Py_None);
    }
    return PyErr_SetFromErrno(PyExc_OSError);
}

static PyObject *lock(PyObject *self, PyObject *arg) {
    (void)self;
    int fd = PyObject_AsFileDescriptor(arg);
    return fd < 0 ? NULL : record_lock(fd, F_WRLCK);
}

static PyObject *unlock(PyObject *self, PyObject *arg) {
    (void)self;
    int fd = PyObject_AsFileDescriptor(arg);
    return fd < 0 ? NULL : record_lock(fd, F_UNLCK);
}

/* Mutex: a lock for short critical sections run by threads holding the GIL. */
#define STARVING_AFTER_NS 1000000LL  /* a waiter that waited this long goes before newcomers (as Go's sync.Mutex) */
#define SIGNAL_CHECK_NS 50000000LL   /* a waiting thread checks this often for signals (their handlers run in the
                                        main thread, and may raise) */

typedef struct {
    PyObject_HEAD
    pthread_mutex_t mutex;
    int starving; /* waiters that have waited STARVING_AFTER_NS; read and written with the GIL held */
} Mutex;

static long long now_ns(clockid_t clock) {
    struct timespec t;
    clock_gettime(clock, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* Without the GIL: waits until the mutex is free, at most SIGNAL_CHECK_NS, without keeping it (a thread
   that took it here would hold it while waiting for the GIL, and every later acquire would wait for that
   thread: a convoy); with `yield`, then lets another thread run. 0, ETIMEDOUT or the error. */
static int wait_until_free(Mutex *self, int yield) {
    int err;
    Py_BEGIN_ALLOW_THREADS
    long long deadline = now_ns(CLOCK_REALTIME) + SIGNAL_CHECK_NS;
    struct timespec until = {(time_t)(deadline / 1000000000LL), (long)(deadline % 1000000000LL)};
    err = pthread_mutex_timedlock(&self->mutex, &until);
    if (err == 0)
        pthread_mutex_unlock(&self->mutex);
    if (yield)
        sched_yield();
    Py_END_ALLOW_THREADS
    return err;
}

static PyObject *Mutex_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, ":Mutex", kwlist))
        return NULL;
    Mutex *self = (Mutex *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ERRORCHECK);
    int err = pthread_mutex_init(&self->mutex, &attr);
    pthread_mutexattr_destroy(&attr);
    if (err != 0) {
        Py_TYPE(self)->tp_free((PyObject *)self);
        errno = err;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    return (PyObject *)self;
}

static void Mutex_dealloc(Mutex *self) {
    pthread_mutex_destroy(&self->mutex);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Mutex_acquire(Mutex *self, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"blocking", NULL};
    int blocking = 1;
    if (args != NULL && !PyArg_ParseTupleAndKeywords(args, kwargs, "|p:acquire", kwlist, &blocking))
        return NULL;
    int err, starving = 0; /* starving: this thread is counted in self->starving */
    long long since = 0;
    for (;;) {
        /* taken only with the GIL, and by a newcomer only when no waiter is starving */
        err = self->starving == 0 || starving ? pthread_mutex_trylock(&self->mutex) : EBUSY;
        if (err != EBUSY)
            break;
        if (!blocking)
            return Py_NewRef(Py_False);
        if (since == 0) {
            since = now_ns(CLOCK_MONOTONIC);
        } else if (!starving && now_ns(CLOCK_MONOTONIC) - since >= STARVING_AFTER_NS) {
            starving = 1;
            self->starving++;
        }
        err = wait_until_free(self, self->starving > 0 && !starving);
        if (err == ETIMEDOUT) {
            if (PyErr_CheckSignals() < 0)
                break;
            continue;
        }
        if (err != 0)
            break;
    }
    if (starving)
        self->starving--;
    if (err == ETIMEDOUT) /* a signal handler raised */
        return NULL;
    if (err == EDEADLK) {
        PyErr_SetString(PyExc_RuntimeError, "this thread already holds the Mutex");
        return NULL;
    }
    if (err != 0) {
        errno = err;
        return PyErr_SetFromErrno(PyExc_RuntimeError);
    }
    return Py_NewRef(Py_True);
}

static PyObject *Mutex_release(Mutex *self, PyObject *unused) {
    (void)unused;
    int err = pthread_mutex_unlock(&self->mutex);
    if (err != 0) {
        PyErr_SetString(PyExc_RuntimeError, "release of a Mutex this thread does not hold");
        return NULL;
    }
    return Py_NewRef(Py_None);
}

static PyObject *Mutex_enter(Mutex *self, PyObject *unused) {
    (void)unused;
    return Mutex_acquire(self, NULL, NULL);
}

static PyObject *Mutex_exit(Mutex *self, PyObject *args) {
    (void)args;
    return Mutex_release(self, NULL);
}

static PyMethodDef Mutex_methods[] = {
    {"acquire", (PyCFunction)(void (*)(void))Mutex_acquire, METH_VARARGS | METH_KEYWORDS,
     "acquire(blocking=True) -> whether it was taken"},
    {"release", (PyCFunction)Mutex_release, METH_NOARGS, "release()"},
    {"__enter__", (PyCFunction)Mutex_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)Mutex_exit, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject MutexType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "paysig.server._sysio.Mutex",
    .tp_basicsize = sizeof(Mutex),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Mutex(): a lock for short critical sections; a thread waits for it without the GIL and never "
              "holds it while waiting for the GIL",
    .tp_methods = Mutex_methods,
    .tp_new = Mutex_new,
    .tp_dealloc = (destructor)Mutex_dealloc,
};

static PyMethodDef methods[] = {
    {"lock", lock, METH_O, "lock(fd): a write lock on the whole file, owned by this process"},
    {"unlock", unlock, METH_O, "unlock(fd)"},
    {"append", append, METH_VARARGS, "append(fd, data, torn, path, dev, ino) -> (written, torn, at_path)"},
    {"write_lines", write_lines, METH_VARARGS, "write_lines(fd, data, torn) -> (written, torn)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "paysig.server._sysio",
    "System calls made without handing the GIL to another thread, and a Mutex that does not convoy under it.",
    -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__sysio(void) {
    PyObject *m = PyModule_Create(&module_def);
    if (m && (PyModule_AddIntConstant(m, "PIPE_BUF", PIPE_BUF) < 0 || PyType_Ready(&MutexType) < 0 ||
              PyModule_AddObjectRef(m, "Mutex", (PyObject *)&MutexType) < 0)) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
