/* withscope.core._speedups: the C accelerator of the recording hot path.
 *
 * Optional, like coverage.py's CTracer: `core.track`, `core.streams` and `core.recorder` use it
 * when it was built (`pip install` compiles it; a machine without a C compiler installs without it)
 * and fall back to their pure-Python versions otherwise, or when WITHSCOPE_PURE_PYTHON=1 is set.
 * Both versions record exactly the same events; the test suite runs the core tests on both.
 *
 * What lives here, each the C twin of a Python function named in its comment:
 *   HandleBase            the base of `track.Tracked`: one slot `_s` (the handle's state list), and
 *                         `sync_enter`/`sync_exit`/`async_enter`/`async_exit`, the hot path of
 *                         `_SyncCtx.__enter__`, `Tracked.__exit__`, `_AsyncCtx.__aenter__` and
 *                         `Tracked.__aexit__` (the async ones return an `Await`, not a coroutine);
 *   track()               the fast path of `track.track` (a context manager of a known type);
 *   StreamIter            `streams._sync_gen`: counts the chunks of a sync stream;
 *   fold_releases()       the clean-release loop of `Recorder._fold`;
 *   EventBuf              `Recorder._buf`, the pending events (a deque on the Python path): the hot
 *                         path's ACQUIRE and clean RELEASE are stored as C records, not tuples;
 *   running_loop()        `asyncio._get_running_loop()` without its system call on 3.11.
 * Every uncommon case (nested entries, a full buffer, skipped frames, errors) calls back into the
 * Python methods of the handle, so the rules live in one place: the Python code.
 *
 * Observing never breaks the observed: a failure while recording is handed to the Python
 * callable `failed(what, exc)` (it logs) and cleared; only the wrapped object's own exceptions
 * propagate.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#if defined(__unix__)
#include <sys/mman.h>
#endif

#if PY_VERSION_HEX < 0x030B0000
#error "withscope needs CPython 3.11 or newer"
#endif

/* ------------------------------------------------------------------ configuration (configure()) */
static PyObject *g_skip_files;      /* set of file names that are never a user's site */
static PyObject *g_thread_me;       /* lifecycle._thread_me: the calling thread's token */
static PyObject *g_get_running_loop;
static PyObject *g_current_task;
static PyObject *g_failed;          /* failed(what: str, exc) -> None: logs */
static PyObject *g_fast;            /* track._FAST: type -> (handle class, spec) */
static PyObject *g_track_slow;      /* track._track(obj, kind, label, suppresses, recorder) */
static PyObject *g_active;          /* recorder._active (ContextVar) */
static PyObject *g_current_recorder;
static int g_before_with = -1;
/* dis.opmap's SEND and GET_AWAITABLE: an `async with` awaits its __aenter__ by GET_AWAITABLE 1 then SEND,
 * and the entry is recorded when that SEND returns (see _AsyncCtx.__aenter__). */
static int g_send = -1, g_get_awaitable = -1;
static int g_configured = 0;
static PyObject *g_one, *g_zero;

/* The codes of core/events.py, its one definition (exported as module constants, which
 * tests/core/test_accel_codes.py checks against events.py): event codes (the first item of an
 * event tuple) and the outcome codes of the lifetime table. */
#define CODE_ACQUIRE 0
#define CODE_RELEASE 1
#define CODE_ABORT 2
#define OUT_OPEN (-1)
#define OUT_RELEASED 0
#define OUT_RELEASED_WITH_ERROR 1
#define OUT_EXIT_RAISED 2
_Static_assert(CODE_ACQUIRE == 0 && CODE_RELEASE == 1, "g_zero and g_one stand for these two codes in events");

/* The last thread seen and its token: threads switch rarely compared with `with` blocks. */
static uint64_t g_last_tid = 0;
static PyObject *g_last_me = NULL;

static PyObject *s_aenter, *s_aexit, *s_hot;
static PyObject *s_relieve;
static PyObject *s_enter, *s_exit, *s_arm, *s_slow_enter, *s_take, *s_end, *s_exited,
    *s_append, *s_get_name, *s_read, *s_closed, *s_ended, *s_acquisition,
    *s_release_what, *s_stream_what, *s_kind, *s_label, *s_suppresses, *s_recorder;

static inline int64_t now_ns(void) {
#if PY_VERSION_HEX >= 0x030D0000
    PyTime_t t;
    (void)PyTime_PerfCounterRaw(&t);
    return (int64_t)t;
#else
    return (int64_t)_PyTime_GetPerfCounter(); /* the clock of time.perf_counter_ns() */
#endif
}

/* Take the pending exception, normalized, its traceback attached (PyErr_Restore puts it back). */
static void fetch_normalized(PyObject **type, PyObject **value, PyObject **tb) {
    PyErr_Fetch(type, value, tb);
    PyErr_NormalizeException(type, value, tb);
    if (*tb != NULL && *value != NULL) PyException_SetTraceback(*value, *tb);
}

/* Hand the pending exception to failed(what, exc) and clear it (never propagates). */
static void report_failure(PyObject *what) {
    PyObject *type, *value, *tb;
    fetch_normalized(&type, &value, &tb);
    if (g_failed != NULL && value != NULL) {
        PyObject *r = PyObject_CallFunctionObjArgs(g_failed, what, value, NULL);
        if (r == NULL) PyErr_Clear();
        Py_XDECREF(r);
    }
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
}

/* The bound special method `name` of obj's type, as a bare `with` looks it up. */
static PyObject *call_special(PyObject *obj, PyObject *name, PyObject *const *args, Py_ssize_t nargs) {
    PyTypeObject *tp = Py_TYPE(obj);
    PyObject *meth = _PyType_Lookup(tp, name); /* borrowed */
    if (meth == NULL) {
        PyErr_Format(PyExc_AttributeError, "type object '%.100s' has no attribute '%U'", tp->tp_name, name);
        return NULL;
    }
    if (PyType_HasFeature(Py_TYPE(meth), Py_TPFLAGS_METHOD_DESCRIPTOR)) {
        PyObject *stack[4];
        stack[0] = obj;
        for (Py_ssize_t i = 0; i < nargs && i < 3; i++) stack[i + 1] = args[i];
        Py_INCREF(meth);
        PyObject *r = PyObject_Vectorcall(meth, stack, (size_t)nargs + 1, NULL);
        Py_DECREF(meth);
        return r;
    }
    descrgetfunc get = Py_TYPE(meth)->tp_descr_get;
    PyObject *bound;
    if (get == NULL) {
        bound = Py_NewRef(meth);
    } else {
        bound = get(meth, obj, (PyObject *)tp);
        if (bound == NULL) return NULL;
    }
    PyObject *r = PyObject_Vectorcall(bound, args, (size_t)nargs, NULL);
    Py_DECREF(bound);
    return r;
}

/* The calling thread's token (lifecycle._thread_me()); new reference. */
static PyObject *thread_me(void) {
    uint64_t tid = PyThreadState_GetID(PyThreadState_Get());
    if (g_last_me != NULL && tid == g_last_tid) return Py_NewRef(g_last_me);
    PyObject *me = PyObject_CallNoArgs(g_thread_me);
    if (me == NULL) return NULL;
    Py_XSETREF(g_last_me, Py_NewRef(me));
    g_last_tid = tid;
    return me;
}

/* --------------------------------------------------------------------------------- EventBuf */
/* The recorder's pending-event buffer (`Recorder._buf`): a FIFO ring like the `collections.deque`
 * of the pure-Python path, with the same methods the Python producers and the fold use (append,
 * popleft, clear, len, iteration). The hot path stores its two events, ACQUIRE and the clean
 * RELEASE, as C records instead of tuples (no allocation, nothing for the garbage collector to
 * track); `popleft`/`take`/iteration hand every event out as the same tuple the pure-Python path
 * appends, in order. Any other event (`append(tuple)`) is kept as the object itself. */
enum { EV_ACQUIRE = 0, EV_RELEASE = 1, EV_OBJECT = 2 };

typedef struct {
    int64_t lid, t;
    PyObject *obj;               /* EV_OBJECT: the event; EV_ACQUIRE: the spec */
    PyObject *code, *me, *name;  /* EV_ACQUIRE: the site's code object, thread token, task name or None */
    int lasti;
    int kind;
} Ev;

typedef struct {
    PyObject_HEAD
    Ev *items;
    Py_ssize_t cap; /* a power of two (or 0) */
    Py_ssize_t head, len;
} EventBuf;

static PyTypeObject EventBufType;

static void ev_incref(Ev *e) {
    Py_XINCREF(e->obj);
    Py_XINCREF(e->code);
    Py_XINCREF(e->me);
    Py_XINCREF(e->name);
}

static void ev_clear(Ev *e) {
    Py_CLEAR(e->obj);
    Py_CLEAR(e->code);
    Py_CLEAR(e->me);
    Py_CLEAR(e->name);
}

/* Bytes of ring held by every EventBuf of the process (the retention budget below reads it). */
static Py_ssize_t g_ring_bytes = 0;

/* Rings of a megabyte and more are mapped from the OS directly, so that freeing one gives the
 * memory back: with malloc, glibc raises its mmap threshold after the first large free and later
 * rings come from the heap, which keeps their pages after a burst (~29 MiB after a million
 * lifetimes, in the memory benchmark). */
#if defined(__unix__) && defined(MAP_ANONYMOUS)
#define RING_MMAP_BYTES ((size_t)1 << 20)
static Ev *ring_alloc(Py_ssize_t cap) {
    size_t bytes = (size_t)cap * sizeof(Ev);
    if (bytes < RING_MMAP_BYTES) return PyMem_Malloc(bytes);
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : (Ev *)p;
}
static void ring_free(Ev *items, Py_ssize_t cap) {
    size_t bytes = (size_t)cap * sizeof(Ev);
    if (items == NULL) return;
    if (bytes < RING_MMAP_BYTES) PyMem_Free(items);
    else munmap(items, bytes);
}
#else
static Ev *ring_alloc(Py_ssize_t cap) { return PyMem_Malloc((size_t)cap * sizeof(Ev)); }
static void ring_free(Ev *items, Py_ssize_t Py_UNUSED(cap)) { PyMem_Free(items); }
#endif

static void evbuf_free_ring(EventBuf *b) {
    g_ring_bytes -= b->cap * (Py_ssize_t)sizeof(Ev);
    ring_free(b->items, b->cap);
    b->items = NULL;
    b->cap = b->head = 0;
}

/* Room for one more record; -1 with MemoryError set. Calls no Python code. */
static int evbuf_reserve(EventBuf *b) {
    if (b->len < b->cap) return 0;
    Py_ssize_t cap = b->cap ? b->cap * 2 : 1024;
    Ev *items = ring_alloc(cap);
    if (items == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < b->len; i++) items[i] = b->items[(b->head + i) & (b->cap - 1)];
    Py_ssize_t len = b->len;
    evbuf_free_ring(b);
    b->items = items;
    b->cap = cap;
    b->len = len;
    g_ring_bytes += cap * (Py_ssize_t)sizeof(Ev);
    return 0;
}

static inline Ev *evbuf_tail(EventBuf *b) { return &b->items[(b->head + b->len) & (b->cap - 1)]; }

/* Append a copy of the record `e`, taking new references to its objects. Calls no Python code. */
static int evbuf_push(EventBuf *b, const Ev *e) {
    if (evbuf_reserve(b) < 0) return -1;
    Ev *tail = evbuf_tail(b);
    *tail = *e;
    ev_incref(tail);
    b->len++;
    return 0;
}

/* The event `e` as the pure-Python path's tuple; steals e's references (also on failure). */
static PyObject *ev_materialize(Ev *e) {
    if (e->kind == EV_OBJECT) return e->obj;
    PyObject *ev = NULL, *lid = PyLong_FromLongLong(e->lid), *t = PyLong_FromLongLong(e->t);
    if (lid != NULL && t != NULL) {
        if (e->kind == EV_RELEASE) {
            ev = PyTuple_Pack(3, g_one, lid, t);
        } else {
            PyObject *lasti = PyLong_FromLong(e->lasti);
            ev = lasti == NULL ? NULL : PyTuple_New(8);
            if (ev != NULL) {
                PyTuple_SET_ITEM(ev, 0, Py_NewRef(g_zero));
                PyTuple_SET_ITEM(ev, 1, Py_NewRef(lid));
                PyTuple_SET_ITEM(ev, 2, Py_NewRef(t));
                PyTuple_SET_ITEM(ev, 3, e->obj);
                PyTuple_SET_ITEM(ev, 4, e->code);
                PyTuple_SET_ITEM(ev, 5, Py_NewRef(lasti));
                PyTuple_SET_ITEM(ev, 6, e->me);
                PyTuple_SET_ITEM(ev, 7, e->name);
                e->obj = e->code = e->me = e->name = NULL;
            }
            Py_XDECREF(lasti);
        }
    }
    Py_XDECREF(lid);
    Py_XDECREF(t);
    ev_clear(e);
    return ev;
}

/* Pop the oldest record into `out` (nothing else may run between the read and the pop: a
 * finalizer that appends while a tuple is made must not see a half-taken record). */
static int evbuf_pop(EventBuf *b, Ev *out) {
    if (b->len == 0) return 0;
    *out = b->items[b->head];
    b->head = (b->head + 1) & (b->cap - 1);
    b->len--;
    return 1;
}

static PyObject *evbuf_append(EventBuf *b, PyObject *ev) {
    Ev e = {.kind = EV_OBJECT, .obj = ev};
    if (evbuf_push(b, &e) < 0) return NULL;
    Py_RETURN_NONE;
}

/* Append the hot path's record `e` (borrowed references) to `buf`: as a C record to an EventBuf,
 * else (another buffer: a test's) as the tuple the pure-Python path appends. */
static int push_record(PyObject *buf, const Ev *e) {
    if (Py_IS_TYPE(buf, &EventBufType)) return evbuf_push((EventBuf *)buf, e);
    Ev copy = *e;
    ev_incref(&copy);
    PyObject *ev = ev_materialize(&copy);
    if (ev == NULL) return -1;
    PyObject *r = PyObject_CallMethodOneArg(buf, s_append, ev);
    Py_DECREF(ev);
    Py_XDECREF(r);
    return r == NULL ? -1 : 0;
}

static PyObject *evbuf_popleft(EventBuf *b, PyObject *Py_UNUSED(ignored)) {
    Ev e;
    if (!evbuf_pop(b, &e)) {
        PyErr_SetString(PyExc_IndexError, "pop from an empty EventBuf");
        return NULL;
    }
    return ev_materialize(&e);
}

/* An emptied ring keeps its memory while all the rings of the process hold at most EVBUF_RETAIN
 * bytes: refilling a freed one costs a page fault per 73 records (~100 ns per `with` in a burst).
 * Beyond that (a large burst, or many recorders kept after their runs) it is freed. */
#define EVBUF_RETAIN ((Py_ssize_t)32 << 20)

static void evbuf_emptied(EventBuf *b) {
    if (b->len == 0 && b->items != NULL && g_ring_bytes > EVBUF_RETAIN) evbuf_free_ring(b);
}

/* take(n): a list of the n oldest events (all when n is None or larger), removed. */
static PyObject *evbuf_take(EventBuf *b, PyObject *const *args, Py_ssize_t nargs) {
    Py_ssize_t n = b->len;
    if (nargs > 1) {
        PyErr_SetString(PyExc_TypeError, "take() takes at most 1 argument");
        return NULL;
    }
    if (nargs == 1 && args[0] != Py_None) {
        Py_ssize_t k = PyLong_AsSsize_t(args[0]);
        if (k == -1 && PyErr_Occurred()) return NULL;
        if (k < n) n = k < 0 ? 0 : k;
    }
    PyObject *out = PyList_New(n);
    if (out == NULL) return NULL;
    /* Not visible to the garbage collector (gc.get_objects(), a gc callback) while slots are NULL:
     * making a tuple below may start a collection. */
    PyObject_GC_UnTrack(out);
    for (Py_ssize_t i = 0; i < n; i++) {
        Ev e;
        if (!evbuf_pop(b, &e)) { /* cannot happen: only the draining thread pops */
            Py_SET_SIZE(out, i);
            break;
        }
        PyObject *ev = ev_materialize(&e);
        if (ev == NULL) { /* out of memory: the rest stays pending */
            Py_SET_SIZE(out, i);
            Py_DECREF(out);
            return NULL;
        }
        PyList_SET_ITEM(out, i, ev);
    }
    evbuf_emptied(b);
    PyObject_GC_Track(out);
    return out;
}

/* Drop every pending record; the references are released after the ring is emptied. */
static void evbuf_drop_all(EventBuf *b) {
    Ev *items = b->items;
    Py_ssize_t cap = b->cap, head = b->head, len = b->len;
    b->items = NULL;
    b->cap = b->head = b->len = 0;
    g_ring_bytes -= cap * (Py_ssize_t)sizeof(Ev);
    for (Py_ssize_t i = 0; i < len; i++) ev_clear(&items[(head + i) & (cap - 1)]);
    ring_free(items, cap);
}

static PyObject *evbuf_clear_method(EventBuf *b, PyObject *Py_UNUSED(ignored)) {
    Ev e;
    while (evbuf_pop(b, &e)) ev_clear(&e); /* a finalizer run here may append: it is dropped next */
    evbuf_emptied(b);
    Py_RETURN_NONE;
}

static Py_ssize_t evbuf_length(EventBuf *b) { return b->len; }

static PyObject *evbuf_sizeof(EventBuf *b, PyObject *Py_UNUSED(ignored)) {
    return PyLong_FromSsize_t((Py_ssize_t)sizeof(EventBuf) + b->cap * (Py_ssize_t)sizeof(Ev));
}

/* iter(buf): the pending events as tuples, oldest first, left in place (a snapshot). */
static PyObject *evbuf_iter(EventBuf *b) {
    Py_ssize_t n = b->len;
    PyObject *out = PyList_New(0);
    if (out == NULL) return NULL;
    for (Py_ssize_t i = 0; i < n && i < b->len; i++) {
        Ev e = b->items[(b->head + i) & (b->cap - 1)];
        ev_incref(&e);
        PyObject *ev = ev_materialize(&e);
        if (ev == NULL || PyList_Append(out, ev) < 0) {
            Py_XDECREF(ev);
            Py_DECREF(out);
            return NULL;
        }
        Py_DECREF(ev);
    }
    PyObject *it = PyObject_GetIter(out);
    Py_DECREF(out);
    return it;
}

static int evbuf_traverse(EventBuf *b, visitproc visit, void *arg) {
    for (Py_ssize_t i = 0; i < b->len; i++) {
        Ev *e = &b->items[(b->head + i) & (b->cap - 1)];
        Py_VISIT(e->obj);
        Py_VISIT(e->code);
        Py_VISIT(e->me);
        Py_VISIT(e->name);
    }
    return 0;
}

static int evbuf_tp_clear(EventBuf *b) {
    evbuf_drop_all(b);
    return 0;
}

static void evbuf_dealloc(EventBuf *b) {
    PyObject_GC_UnTrack(b);
    evbuf_drop_all(b);
    Py_TYPE(b)->tp_free((PyObject *)b);
}

static PyMethodDef evbuf_methods[] = {
    {"append", (PyCFunction)evbuf_append, METH_O, "Append one event (a tuple) at the end."},
    {"popleft", (PyCFunction)evbuf_popleft, METH_NOARGS, "Remove and return the oldest event."},
    {"take", (PyCFunction)(void (*)(void))evbuf_take, METH_FASTCALL,
     "take(n=None) -> list: remove and return the n oldest events (all by default), oldest first."},
    {"clear", (PyCFunction)evbuf_clear_method, METH_NOARGS, "Drop every pending event."},
    {"__sizeof__", (PyCFunction)evbuf_sizeof, METH_NOARGS, "Bytes held, the ring's allocation included."},
    {NULL, NULL, 0, NULL},
};

static PySequenceMethods evbuf_as_sequence = {.sq_length = (lenfunc)evbuf_length};

static PyTypeObject EventBufType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "withscope.core._speedups.EventBuf",
    .tp_basicsize = sizeof(EventBuf),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "The recorder's pending events: a FIFO of event tuples (see Recorder).",
    .tp_traverse = (traverseproc)evbuf_traverse,
    .tp_clear = (inquiry)evbuf_tp_clear,
    .tp_dealloc = (destructor)evbuf_dealloc,
    .tp_as_sequence = &evbuf_as_sequence,
    .tp_iter = (getiterfunc)evbuf_iter,
    .tp_methods = evbuf_methods,
    .tp_new = PyType_GenericNew,
};

/* ----------------------------------------------------------------------------- running loop */
/* asyncio._get_running_loop() (new reference; None when no loop runs). On CPython 3.11 every call
 * inside a running loop makes a getpid() system call (~100 ns): the C `_asyncio` module keeps the
 * running loop in the thread's state dict, in a holder {loop, pid} whose pid it compares with
 * getpid() so that a forked child sees no loop. Here the holder is read directly and its pid is
 * compared with the pid this module last saw (read at import and, in a forked child, by
 * after_fork_in_child(), which track.py registers with os.register_at_fork). Nothing is cached and
 * no reference is kept. Any other interpreter, or a holder of another shape, asks asyncio. Not
 * covered: a child forked without Python's fork hooks (a raw fork() from C), or code run in the
 * child by an at-fork hook registered before withscope was imported, sees the parent's loop. */
static PyObject *g_current_tasks = NULL; /* asyncio.tasks._current_tasks when it is _asyncio's dict, else NULL */

#if PY_VERSION_HEX < 0x030C0000 && !defined(MS_WINDOWS)
#include <unistd.h>
#define READ_LOOP_HOLDER 1
typedef struct { /* CPython 3.11 Modules/_asynciomodule.c: PyRunningLoopHolder */
    PyObject_HEAD
    PyObject *rl_loop;
    pid_t rl_pid;
} LoopHolder;
static PyObject *s_loop_key;      /* "__asyncio_running_event_loop__" */
static PyTypeObject *g_holder_type = NULL; /* the holder type, once recognised */
static pid_t g_pid;
#endif
/* configure(loop_in_thread_state=True): get_running_loop is the C `_asyncio` one, which keeps the
 * loop under s_loop_key only, so no key means no running loop. */
static int g_loop_in_ts = 0;

static PyObject *running_loop(void) {
#ifdef READ_LOOP_HOLDER
    PyObject *d = PyThreadState_GetDict(); /* borrowed */
    PyObject *holder = d == NULL ? NULL : PyDict_GetItemWithError(d, s_loop_key); /* borrowed */
    if (holder == NULL && PyErr_Occurred()) return NULL;
    if (holder == NULL && g_loop_in_ts) return Py_NewRef(Py_None); /* no loop has run in this thread */
    if (holder != NULL) {
        PyTypeObject *tp = Py_TYPE(holder);
        if (tp != g_holder_type && g_holder_type == NULL && tp->tp_basicsize == (Py_ssize_t)sizeof(LoopHolder) &&
            strcmp(tp->tp_name, "_RunningLoopHolder") == 0)
            g_holder_type = tp;
        if (tp == g_holder_type) {
            LoopHolder *h = (LoopHolder *)holder;
            return Py_NewRef(h->rl_pid == g_pid ? h->rl_loop : Py_None);
        }
    }
#endif
    return PyObject_CallNoArgs(g_get_running_loop);
}

static PyObject *after_fork_in_child(PyObject *Py_UNUSED(module), PyObject *Py_UNUSED(ignored)) {
#ifdef READ_LOOP_HOLDER
    g_pid = getpid();
#endif
    Py_RETURN_NONE;
}

/* asyncio.current_task(loop) (new reference, None when no task runs). */
static PyObject *current_task(PyObject *loop) {
    if (g_current_tasks == NULL) return PyObject_CallOneArg(g_current_task, loop);
    PyObject *task = PyDict_GetItemWithError(g_current_tasks, loop);
    if (task == NULL) return PyErr_Occurred() ? NULL : Py_NewRef(Py_None);
    return Py_NewRef(task);
}

/* ------------------------------------------------------------------------------- HandleBase */
typedef struct {
    PyObject_HEAD
    PyObject *s; /* the state list: see track.Tracked */
} Handle;

static int handle_traverse(Handle *self, visitproc visit, void *arg) {
    Py_VISIT(self->s); /* a heap subtype's own type is visited by subtype_traverse */
    return 0;
}

static int handle_clear(Handle *self) {
    Py_CLEAR(self->s);
    return 0;
}

/* Instances are always of Python subclasses: subtype_dealloc runs `__del__` and drops the
 * reference to the heap type; this only frees the state. */
static void handle_dealloc(Handle *self) {
    PyObject_GC_UnTrack(self);
    handle_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* The state list, checked: a handle whose `_s` is not set (or not a list of >= 6) is refused. */
static PyObject *state_of(Handle *self) {
    PyObject *s = self->s;
    if (s == NULL || !PyList_CheckExact(s) || PyList_GET_SIZE(s) < 6) {
        PyErr_SetString(PyExc_AttributeError, "_s");
        return NULL;
    }
    return s;
}

/* The recorder's `_hot` list (new reference). The last recorder's is kept, keyed by a weak
 * reference to that recorder: `_hot` is only ever updated in place (Recorder._sync_hot), and the
 * weak reference's callback drops the entry when the recorder goes. The one case this keeps a
 * recorder alive: a dead recorder in a reference cycle through its own pending events (only
 * events pushed by user code can refer back to it) stays until another recorder records. */
static PyObject *g_hot_ref = NULL, *g_hot = NULL, *g_hot_gone = NULL;

static PyObject *hot_gone(PyObject *Py_UNUSED(module), PyObject *ref) {
    if (ref == g_hot_ref) {
        Py_CLEAR(g_hot_ref);
        Py_CLEAR(g_hot);
    }
    Py_RETURN_NONE;
}

/* Whether the weak reference `ref` refers to `obj` (which is alive: the caller holds it). */
static inline int weak_is(PyObject *ref, PyObject *obj) {
#if PY_VERSION_HEX >= 0x030D0000
    PyObject *cur;
    if (PyWeakref_GetRef(ref, &cur) < 0) {
        PyErr_Clear();
        return 0;
    }
    Py_XDECREF(cur); /* only compared: obj keeps it alive when they are the same */
    return cur == obj;
#else
    return PyWeakref_GET_OBJECT(ref) == obj;
#endif
}

static PyObject *hot_of(PyObject *rec) {
    if (g_hot_ref != NULL && weak_is(g_hot_ref, rec) && PyList_GET_SIZE(g_hot) == 4) return Py_NewRef(g_hot);
    PyObject *hot = PyObject_GetAttr(rec, s_hot);
    if (hot == NULL) return NULL;
    if (!PyList_CheckExact(hot) || PyList_GET_SIZE(hot) != 4) {
        Py_DECREF(hot);
        PyErr_SetString(PyExc_TypeError, "Recorder._hot must be [_buf, _ids, _limit, _room]");
        return NULL;
    }
    PyObject *ref = g_hot_gone == NULL ? NULL : PyWeakref_NewRef(rec, g_hot_gone);
    if (ref == NULL) {
        PyErr_Clear(); /* not weakly referenceable: read it every time */
        return hot;
    }
    Py_XSETREF(g_hot_ref, ref);
    Py_XSETREF(g_hot, Py_NewRef(hot));
    return hot;
}

/* The name of `task` (new reference): `_asyncio.Task.get_name` called directly on a plain Task. */
static PyTypeObject *g_task_type = NULL;
static PyObject *g_task_get_name = NULL;

static PyObject *task_name(PyObject *task) {
    if (g_task_type == NULL && strcmp(Py_TYPE(task)->tp_name, "_asyncio.Task") == 0) {
        PyObject *m = PyObject_GetAttr((PyObject *)Py_TYPE(task), s_get_name);
        if (m == NULL) return NULL;
        g_task_get_name = m;
        g_task_type = (PyTypeObject *)Py_NewRef(Py_TYPE(task));
    }
    if (Py_IS_TYPE(task, g_task_type)) return PyObject_Vectorcall(g_task_get_name, &task, 1, NULL);
    return PyObject_CallMethodNoArgs(task, s_get_name);
}

/* Record one entry of the handle made at frame `f` (borrowed; NULL: no Python caller). The C twin
 * of the inlined part of `_SyncCtx.__enter__` / `_AsyncCtx.__aenter__`: `opcode` is the
 * instruction at which a `with` (BEFORE_WITH) statement calls the handle, or -1 for an `async with`
 * entry, recognised like `_AsyncCtx.__aenter__` does: the caller is at the `SEND` that follows
 * `GET_AWAITABLE 1` (the frame is read when the awaited __aenter__ returns). An entry made by any
 * other instruction arms the handle (see track.py).
 * Returns 0, or -1 with an exception set (the caller reports it). */
static int record_entry(Handle *self, PyObject *s, int64_t t, PyFrameObject *f, int opcode) {
    if (!g_configured) {
        PyErr_SetString(PyExc_RuntimeError, "withscope.core._speedups is not configured");
        return -1;
    }
    Py_XINCREF(f);
    int rc = -1;
    PyObject *code = NULL, *co = NULL, *hot = NULL, *buf = NULL, *r = NULL, *lid_o = NULL;
    PyObject *me = NULL, *loop = NULL, *task = NULL, *name = NULL, *t_o = NULL;
    if (f == NULL) { /* no Python caller: the general path records no site */
        t_o = PyLong_FromLongLong(t);
        if (t_o == NULL) goto done;
        r = PyObject_CallMethodObjArgs((PyObject *)self, s_slow_enter, t_o, Py_None, NULL);
        rc = r == NULL ? -1 : 0;
        goto done;
    }
    code = (PyObject *)PyFrame_GetCode(f);
    int lasti = PyFrame_GetLasti(f);
    co = PyCode_GetCode((PyCodeObject *)code);
    if (co == NULL) goto done;
    const unsigned char *ops = (const unsigned char *)PyBytes_AS_STRING(co);
    Py_ssize_t nops = PyBytes_GET_SIZE(co);
    int by_statement;
    if (opcode < 0) /* async: SEND after GET_AWAITABLE 1 */
        by_statement = lasti >= 4 && lasti < nops && ops[lasti] == g_send && ops[lasti - 4] == g_get_awaitable &&
                       ops[lasti - 3] == 1;
    else
        by_statement = lasti >= 0 && lasti < nops && ops[lasti] == opcode;
    if (!by_statement) {
        r = PyObject_CallMethodNoArgs((PyObject *)self, s_arm);
        if (r == NULL) goto done;
        Py_CLEAR(r);
    }
    hot = hot_of(PyList_GET_ITEM(s, 1)); /* [_buf, _ids, _limit, _room] */
    if (hot == NULL) goto done;
    buf = Py_NewRef(PyList_GET_ITEM(hot, 0)); /* owned: Python code runs below (thread_me, get_name) */
    Py_ssize_t limit = PyLong_AsSsize_t(PyList_GET_ITEM(hot, 2));
    if (limit == -1 && PyErr_Occurred()) goto done;
    Py_ssize_t pending = Py_IS_TYPE(buf, &EventBufType) ? ((EventBuf *)buf)->len : PyObject_Size(buf);
    if (pending < 0) goto done;
    PyObject *entry = PyList_GET_ITEM(s, 3);
    int skip = PySet_Contains(g_skip_files, ((PyCodeObject *)code)->co_filename);
    if (skip < 0) goto done;
    long cur = PyLong_AsLong(entry);
    if (cur == -1 && PyErr_Occurred()) goto done;
    if (cur != -1 || pending >= limit || skip) {
        t_o = PyLong_FromLongLong(t);
        if (t_o == NULL) goto done;
        r = PyObject_CallMethodObjArgs((PyObject *)self, s_slow_enter, t_o, (PyObject *)f, NULL);
        rc = r == NULL ? -1 : 0;
        goto done;
    }
    PyObject *ids = PyList_GET_ITEM(hot, 1);
    lid_o = PyIter_Next(ids);
    if (lid_o == NULL) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_RuntimeError, "the recorder's id counter ran out");
        goto done;
    }
    me = thread_me();
    if (me == NULL) goto done;
    loop = running_loop();
    if (loop == NULL) goto done;
    PyObject *owner = me;
    if (loop != Py_None) {
        task = current_task(loop);
        if (task == NULL) goto done;
        if (task != Py_None) {
            name = task_name(task);
            if (name == NULL) goto done;
            owner = task;
        }
    }
    long long lid = PyLong_AsLongLong(lid_o);
    if (lid == -1 && PyErr_Occurred()) goto done;
    Ev e = {.kind = EV_ACQUIRE, .lid = lid, .t = t, .obj = PyList_GET_ITEM(s, 2), .code = code, .lasti = lasti,
            .me = me, .name = name != NULL ? name : Py_None};
    if (push_record(buf, &e) < 0) goto done;
    if (PyList_SetItem(s, 5, Py_NewRef(owner)) < 0) goto done;
    if (PyList_SetItem(s, 3, Py_NewRef(lid_o)) < 0) goto done;
    rc = 0;
done:
    Py_XDECREF(f);
    Py_XDECREF(code);
    Py_XDECREF(co);
    Py_XDECREF(hot);
    Py_XDECREF(buf);
    Py_XDECREF(r);
    Py_XDECREF(lid_o);
    Py_XDECREF(me);
    Py_XDECREF(loop);
    Py_XDECREF(task);
    Py_XDECREF(name);
    Py_XDECREF(t_o);
    return rc;
}

/* Before an entry reads the clock: when the recorder's buffer holds `_room` events (a lossless
 * recorder that is full), relieve it now (`Recorder.relieve`), so the wait for room is never part
 * of the lifetime about to start. A failure is reported; the entry goes on. */
static void make_room(PyObject *s) {
    PyObject *rec = PyList_GET_ITEM(s, 1);
    PyObject *hot = hot_of(rec);
    if (hot == NULL) {
        report_failure(s_acquisition);
        return;
    }
    PyObject *buf = PyList_GET_ITEM(hot, 0);
    Py_ssize_t room = PyLong_AsSsize_t(PyList_GET_ITEM(hot, 3));
    Py_ssize_t pending = Py_IS_TYPE(buf, &EventBufType) ? ((EventBuf *)buf)->len : PyObject_Size(buf);
    if ((room == -1 || pending < 0) && PyErr_Occurred()) {
        Py_DECREF(hot);
        report_failure(s_acquisition);
        return;
    }
    Py_DECREF(hot);
    if (pending >= room) {
        Py_INCREF(rec);
        PyObject *r = PyObject_CallMethodNoArgs(rec, s_relieve);
        Py_DECREF(rec);
        if (r == NULL) report_failure(s_acquisition);
        Py_XDECREF(r);
    }
}

/* _SyncCtx.__enter__ */
static PyObject *handle_sync_enter(Handle *self, PyObject *Py_UNUSED(ignored)) {
    PyObject *s = state_of(self);
    if (s == NULL) return NULL;
    Py_INCREF(s);
    make_room(s);
    PyObject *obj = Py_NewRef(PyList_GET_ITEM(s, 0));
    int64_t t = now_ns();
    PyObject *value = call_special(obj, s_enter, NULL, 0);
    Py_DECREF(obj);
    if (value != NULL && record_entry(self, s, t, PyEval_GetFrame(), g_before_with) < 0) report_failure(s_acquisition);
    Py_DECREF(s);
    return value;
}

/* Record the release of `lid` by a `with` exit: the clean case inline, the rest by `_exited`. */
static void record_exit(Handle *self, PyObject *s, PyObject *lid, PyObject *et, PyObject *ev, PyObject *ret) {
    PyObject *r;
    if (et == Py_None) {
        PyObject *hot = hot_of(PyList_GET_ITEM(s, 1));
        if (hot == NULL) {
            report_failure(s_release_what);
            return;
        }
        PyObject *buf = Py_NewRef(PyList_GET_ITEM(hot, 0));
        Py_DECREF(hot);
        long long id = PyLong_AsLongLong(lid);
        Ev e = {.kind = EV_RELEASE, .lid = id, .t = now_ns()};
        r = (id == -1 && PyErr_Occurred()) || push_record(buf, &e) < 0 ? NULL : Py_NewRef(Py_None);
        Py_DECREF(buf);
    } else {
        r = PyObject_CallMethodObjArgs((PyObject *)self, s_exited, lid, et, ev, ret, NULL);
    }
    if (r == NULL) report_failure(s_release_what);
    Py_XDECREF(r);
}

/* Take the entry an exit ends off the handle: its id (new reference; < 0: nothing to record). */
static PyObject *take_entry(Handle *self, PyObject *s) {
    PyObject *lid = Py_NewRef(PyList_GET_ITEM(s, 3));
    long cur = PyLong_AsLong(lid);
    if (cur == -1 && PyErr_Occurred()) {
        Py_DECREF(lid);
        return NULL;
    }
    if (cur >= 0) {
        if (PyList_SetItem(s, 3, PyLong_FromLong(-1)) < 0) { /* _NONE */
            Py_DECREF(lid);
            return NULL;
        }
    } else if (cur != -1) {
        Py_SETREF(lid, PyObject_CallMethodNoArgs((PyObject *)self, s_take));
    }
    return lid;
}

static int is_open_id(PyObject *lid) {
    long cur = PyLong_AsLong(lid);
    if (cur == -1 && PyErr_Occurred()) {
        PyErr_Clear();
        return 0;
    }
    return cur >= 0;
}

/* The wrapped exit raised (the pending exception): record `released-with-error` when it is the
 * exception that passed through, else `exit-raised`; the exception stays pending. */
static void record_exit_raised(Handle *self, PyObject *lid, PyObject *ev) {
    PyObject *type, *value, *tb;
    fetch_normalized(&type, &value, &tb);
    if (value != NULL && is_open_id(lid)) {
        PyObject *code = PyLong_FromLong(value == ev ? OUT_RELEASED_WITH_ERROR : OUT_EXIT_RAISED);
        PyObject *r = code == NULL ? NULL
                                   : PyObject_CallMethodObjArgs((PyObject *)self, s_end, lid, code, value, g_zero, NULL);
        if (r == NULL) report_failure(s_release_what);
        Py_XDECREF(r);
        Py_XDECREF(code);
    }
    PyErr_Restore(type, value, tb);
}

/* Tracked.__exit__ */
static PyObject *handle_sync_exit(Handle *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 3) {
        PyErr_Format(PyExc_TypeError, "__exit__ expected 3 arguments, got %zd", nargs);
        return NULL;
    }
    PyObject *s = state_of(self);
    if (s == NULL) return NULL;
    Py_INCREF(s);
    PyObject *obj = Py_NewRef(PyList_GET_ITEM(s, 0));
    PyObject *ret = NULL;
    PyObject *lid = take_entry(self, s);
    if (lid != NULL) {
        ret = call_special(obj, s_exit, args, 3);
        if (ret == NULL) {
            record_exit_raised(self, lid, args[1]);
        } else if (is_open_id(lid)) {
            record_exit(self, s, lid, args[0], args[1], ret);
        }
        Py_DECREF(lid);
    }
    Py_DECREF(obj);
    Py_DECREF(s);
    return ret;
}

/* ------------------------------------------------------------------------------ Await */
/* What `HandleBase.async_enter`/`async_exit` return: an awaitable that drives the wrapped
 * `__aenter__`/`__aexit__` awaitable (like `await inner` in the coroutine `_AsyncCtx.__aenter__`
 * / `Tracked.__aexit__`) and records the entry or the exit when it returns, or the failed exit
 * when it raises. Supports the coroutine protocol asyncio uses: send, throw, close. */
typedef struct {
    PyObject_HEAD
    Handle *handle;
    PyObject *inner;      /* the iterator of the wrapped awaitable; NULL once finished */
    PyFrameObject *frame; /* entry: the frame that entered (or NULL) */
    PyObject *lid;        /* exit: the id of the entry it ends */
    PyObject *et, *ev;    /* exit: the exception passing through */
    int64_t t;            /* entry: the clock when __aenter__ was called */
    int is_exit;
} Await;

static PyTypeObject AwaitType;

static int await_traverse(Await *self, visitproc visit, void *arg) {
    Py_VISIT(self->handle);
    Py_VISIT(self->inner);
    Py_VISIT(self->frame);
    Py_VISIT(self->lid);
    Py_VISIT(self->et);
    Py_VISIT(self->ev);
    return 0;
}

static int await_clear(Await *self) {
    Py_CLEAR(self->handle);
    Py_CLEAR(self->inner);
    Py_CLEAR(self->frame);
    Py_CLEAR(self->lid);
    Py_CLEAR(self->et);
    Py_CLEAR(self->ev);
    return 0;
}

/* Every `async with` makes two Awaits that live for one statement: a few freed ones are kept for
 * reuse (like CPython's own free lists), which saves their allocation. Protected by the GIL. */
#define AWAIT_FREE_MAX 16
static Await *await_free[AWAIT_FREE_MAX];
static int await_nfree = 0;

static void await_dealloc(Await *self) {
    PyObject_GC_UnTrack(self);
    await_clear(self);
#ifndef Py_GIL_DISABLED
    if (await_nfree < AWAIT_FREE_MAX && Py_IS_TYPE(self, &AwaitType)) {
        await_free[await_nfree++] = self;
        return;
    }
#endif
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* getattr(o, name) or NULL without an error when o has no such attribute; -1 on other errors. */
static int get_optional(PyObject *o, const char *name, PyObject **out) {
    *out = PyObject_GetAttrString(o, name);
    if (*out != NULL) return 1;
    if (!PyErr_ExceptionMatches(PyExc_AttributeError)) return -1;
    PyErr_Clear();
    return 0;
}

/* The iterator behind an awaitable, as `await` gets it (GET_AWAITABLE). */
static PyObject *awaitable_iter(PyObject *o) {
    if (PyCoro_CheckExact(o)) return Py_NewRef(o);
    if (PyGen_CheckExact(o)) { /* a generator-based coroutine (@types.coroutine) is awaitable as is */
        PyObject *code = PyObject_GetAttrString(o, "gi_code");
        if (code == NULL) return NULL;
        int iterable = PyCode_Check(code) && (((PyCodeObject *)code)->co_flags & CO_ITERABLE_COROUTINE) != 0;
        Py_DECREF(code);
        if (iterable) return Py_NewRef(o);
    }
    unaryfunc getter = Py_TYPE(o)->tp_as_async != NULL ? Py_TYPE(o)->tp_as_async->am_await : NULL;
    if (getter == NULL) {
        PyErr_Format(PyExc_TypeError, "object %.100s can't be used in 'await' expression", Py_TYPE(o)->tp_name);
        return NULL;
    }
    PyObject *it = getter(o);
    if (it != NULL && (PyCoro_CheckExact(it) || !PyIter_Check(it))) {
        PyErr_Format(PyExc_TypeError, "__await__() returned %s",
                     PyCoro_CheckExact(it) ? "a coroutine" : "non-iterator");
        Py_CLEAR(it);
    }
    return it;
}

static Await *await_new(Handle *handle, PyObject *awaitable, int is_exit) {
    PyObject *it = awaitable_iter(awaitable);
    if (it == NULL) return NULL;
    Await *self;
    if (await_nfree > 0) {
        self = await_free[--await_nfree];
        (void)PyObject_Init((PyObject *)self, &AwaitType);
    } else {
        self = PyObject_GC_New(Await, &AwaitType);
    }
    if (self == NULL) {
        Py_DECREF(it);
        return NULL;
    }
    self->handle = (Handle *)Py_NewRef(handle);
    self->inner = it;
    self->frame = NULL;
    self->lid = self->et = self->ev = NULL;
    self->t = 0;
    self->is_exit = is_exit;
    PyObject_GC_Track(self);
    return self;
}

/* The wrapped awaitable returned `value` (borrowed): record. */
static void await_returned(Await *self, PyObject *value) {
    PyObject *s = self->handle->s;
    if (s == NULL || !PyList_CheckExact(s) || PyList_GET_SIZE(s) < 6) return;
    Py_INCREF(s);
    if (!self->is_exit) {
        if (record_entry(self->handle, s, self->t, self->frame, -1) < 0) report_failure(s_acquisition);
    } else if (is_open_id(self->lid)) {
        record_exit(self->handle, s, self->lid, self->et, self->ev, value);
    }
    Py_DECREF(s);
}

/* One step of the wrapped awaitable finished with `r` (see PyIter_Send). */
static PySendResult await_step(Await *self, PySendResult r, PyObject **result) {
    if (r == PYGEN_NEXT) return r;
    Py_CLEAR(self->inner);
    if (r == PYGEN_RETURN) {
        await_returned(self, *result);
    } else if (self->is_exit) {
        record_exit_raised(self->handle, self->lid, self->ev);
    }
    Py_CLEAR(self->frame);
    return r;
}

static PySendResult await_am_send(Await *self, PyObject *arg, PyObject **result) {
    if (self->inner == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "cannot reuse already awaited __aenter__/__aexit__");
        *result = NULL;
        return PYGEN_ERROR;
    }
    return await_step(self, PyIter_Send(self->inner, arg, result), result);
}

/* Raise StopIteration(value), as a generator that returns `value` does. */
static void set_stop_iteration(PyObject *value) {
#if PY_VERSION_HEX >= 0x030D0000 /* _PyGen_SetStopIterationValue is no longer exported */
    if (value == Py_None) { /* StopIteration(), as a generator returning None raises */
        PyErr_SetNone(PyExc_StopIteration);
        return;
    }
    PyObject *stop = PyObject_CallOneArg(PyExc_StopIteration, value);
    if (stop != NULL) {
        PyErr_SetObject(PyExc_StopIteration, stop);
        Py_DECREF(stop);
    }
#else
    _PyGen_SetStopIterationValue(value);
#endif
}

static PyObject *await_send(Await *self, PyObject *arg) {
    PyObject *result;
    PySendResult r = await_am_send(self, arg, &result);
    if (r == PYGEN_RETURN) {
        set_stop_iteration(result);
        Py_CLEAR(result);
    }
    return result; /* the yielded value, or NULL with StopIteration / the error set */
}

static PyObject *await_iternext(Await *self) {
    return await_send(self, Py_None);
}

static PyObject *await_throw(Await *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs < 1 || nargs > 3) {
        PyErr_SetString(PyExc_TypeError, "throw expected 1 to 3 arguments");
        return NULL;
    }
    if (self->inner == NULL) { /* finished: raise it here, as a finished coroutine does */
        PyObject *typ = args[0], *val = nargs > 1 ? args[1] : Py_None;
        if (PyExceptionInstance_Check(typ)) PyErr_SetObject((PyObject *)Py_TYPE(typ), typ);
        else PyErr_SetObject(typ, val);
        return NULL;
    }
    PyObject *throw = NULL;
    if (get_optional(self->inner, "throw", &throw) < 0) return NULL;
    PyObject *y;
    if (throw == NULL) {
        PyObject *typ = args[0], *val = nargs > 1 ? args[1] : Py_None;
        if (PyExceptionInstance_Check(typ)) PyErr_SetObject((PyObject *)Py_TYPE(typ), typ);
        else PyErr_SetObject(typ, val);
        y = NULL;
    } else {
        y = PyObject_Vectorcall(throw, args, (size_t)nargs, NULL);
        Py_DECREF(throw);
    }
    if (y != NULL) return y; /* the wrapped awaitable yielded again */
    PyObject *result = NULL;
    PySendResult r = PYGEN_ERROR;
    if (PyErr_ExceptionMatches(PyExc_StopIteration)) { /* it returned */
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb);
        PyErr_NormalizeException(&type, &value, &tb);
        result = value != NULL ? PyObject_GetAttrString(value, "value") : Py_NewRef(Py_None);
        Py_XDECREF(type);
        Py_XDECREF(value);
        Py_XDECREF(tb);
        if (result == NULL) return NULL;
        r = PYGEN_RETURN;
    }
    r = await_step(self, r, &result);
    if (r == PYGEN_RETURN) {
        set_stop_iteration(result);
        Py_DECREF(result);
    }
    return NULL;
}

static PyObject *await_close(Await *self, PyObject *Py_UNUSED(ignored)) {
    if (self->inner == NULL) Py_RETURN_NONE;
    PyObject *close = NULL;
    if (get_optional(self->inner, "close", &close) < 0) return NULL;
    PyObject *r = close == NULL ? Py_NewRef(Py_None) : PyObject_CallNoArgs(close);
    Py_XDECREF(close);
    Py_CLEAR(self->inner);
    Py_CLEAR(self->frame);
    if (self->is_exit) { /* an exit cut short: like a coroutine closed while awaiting it */
        if (r == NULL) { /* the wrapped close() raised: that error ends the exit (it stays pending) */
            record_exit_raised(self->handle, self->lid, self->ev);
        } else {
            PyErr_SetNone(PyExc_GeneratorExit);
            record_exit_raised(self->handle, self->lid, self->ev);
            PyErr_Clear();
        }
    }
    return r;
}

static PyObject *await_await(Await *self) {
    return Py_NewRef(self);
}

static PyMethodDef await_methods[] = {
    {"send", (PyCFunction)await_send, METH_O, "send(value): step the wrapped awaitable."},
    {"throw", (PyCFunction)(void (*)(void))await_throw, METH_FASTCALL, "throw(exc): raise into the wrapped awaitable."},
    {"close", (PyCFunction)await_close, METH_NOARGS, "close(): close the wrapped awaitable."},
    {NULL, NULL, 0, NULL},
};

static PyAsyncMethods await_as_async = {
    .am_await = (unaryfunc)await_await,
    .am_send = (sendfunc)await_am_send,
};

static PyTypeObject AwaitType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "withscope.core._speedups.Await",
    .tp_basicsize = sizeof(Await),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "The awaitable of a tracked `async with` entry or exit.",
    .tp_traverse = (traverseproc)await_traverse,
    .tp_clear = (inquiry)await_clear,
    .tp_dealloc = (destructor)await_dealloc,
    .tp_as_async = &await_as_async,
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = (iternextfunc)await_iternext,
    .tp_methods = await_methods,
};

/* _AsyncCtx.__aenter__ */
static PyObject *handle_async_enter(Handle *self, PyObject *Py_UNUSED(ignored)) {
    PyObject *s = state_of(self);
    if (s == NULL) return NULL;
    Py_INCREF(s);
    make_room(s);
    PyObject *obj = Py_NewRef(PyList_GET_ITEM(s, 0));
    Py_DECREF(s);
    int64_t t = now_ns();
    PyObject *awaitable = call_special(obj, s_aenter, NULL, 0);
    Py_DECREF(obj);
    if (awaitable == NULL) return NULL;
    Await *aw = await_new(self, awaitable, 0);
    Py_DECREF(awaitable);
    if (aw == NULL) return NULL;
    aw->t = t;
    PyFrameObject *f = PyEval_GetFrame();
    aw->frame = (PyFrameObject *)Py_XNewRef(f);
    return (PyObject *)aw;
}

/* Tracked.__aexit__ */
static PyObject *handle_async_exit(Handle *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 3) {
        PyErr_Format(PyExc_TypeError, "__aexit__ expected 3 arguments, got %zd", nargs);
        return NULL;
    }
    PyObject *s = state_of(self);
    if (s == NULL) return NULL;
    Py_INCREF(s);
    PyObject *obj = Py_NewRef(PyList_GET_ITEM(s, 0));
    PyObject *result = NULL;
    PyObject *lid = take_entry(self, s);
    if (lid != NULL) {
        PyObject *awaitable = call_special(obj, s_aexit, args, 3);
        Await *aw = awaitable == NULL ? NULL : await_new(self, awaitable, 1);
        Py_XDECREF(awaitable);
        if (aw == NULL) {
            record_exit_raised(self, lid, args[1]);
        } else {
            aw->lid = Py_NewRef(lid);
            aw->et = Py_NewRef(args[0]);
            aw->ev = Py_NewRef(args[1]);
            result = (PyObject *)aw;
        }
        Py_DECREF(lid);
    }
    Py_DECREF(obj);
    Py_DECREF(s);
    return result;
}

static PyMethodDef handle_methods[] = {
    {"sync_enter", (PyCFunction)handle_sync_enter, METH_NOARGS, "The hot path of a sync tracked `with` (enter)."},
    {"sync_exit", (PyCFunction)(void (*)(void))handle_sync_exit, METH_FASTCALL,
     "The hot path of a sync tracked `with` (exit)."},
    {"async_enter", (PyCFunction)handle_async_enter, METH_NOARGS, "The hot path of an `async with` (enter)."},
    {"async_exit", (PyCFunction)(void (*)(void))handle_async_exit, METH_FASTCALL,
     "The hot path of an `async with` (exit)."},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef handle_members[] = {
    {"_s", T_OBJECT_EX, offsetof(Handle, s), 0, "The handle's state list (see Tracked)."},
    {NULL, 0, 0, 0, NULL},
};

static PyTypeObject HandleType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "withscope.core._speedups.HandleBase",
    .tp_basicsize = sizeof(Handle),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "Base of tracked handles: the `_s` slot and the C hot path.",
    .tp_traverse = (traverseproc)handle_traverse,
    .tp_clear = (inquiry)handle_clear,
    .tp_dealloc = (destructor)handle_dealloc,
    .tp_methods = handle_methods,
    .tp_members = handle_members,
    .tp_new = PyType_GenericNew,
};

/* ------------------------------------------------------------------------------------ track() */
/* track(obj, kind=None, label=None, *, suppresses=(), recorder=None): the fast path of
 * `track.track`; anything but a context manager of a known type goes to `track._track`. */
static PyObject *fast_track(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    PyObject *obj = NULL, *kind = Py_None, *label = Py_None, *suppresses = NULL, *recorder = Py_None;
    if (!g_configured) {
        PyErr_SetString(PyExc_RuntimeError, "withscope.core._speedups is not configured");
        return NULL;
    }
    if (nargs < 1 || nargs > 3) {
        PyErr_Format(PyExc_TypeError, "track() takes from 1 to 3 positional arguments but %zd were given", nargs);
        return NULL;
    }
    obj = args[0];
    if (nargs > 1) kind = args[1];
    if (nargs > 2) label = args[2];
    if (kwnames != NULL) {
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(kwnames); i++) {
            PyObject *key = PyTuple_GET_ITEM(kwnames, i), *v = args[nargs + i];
            if (PyUnicode_Compare(key, s_recorder) == 0) recorder = v;
            else if (PyUnicode_Compare(key, s_suppresses) == 0) suppresses = v;
            else if (PyUnicode_Compare(key, s_kind) == 0 && nargs < 2) kind = v;
            else if (PyUnicode_Compare(key, s_label) == 0 && nargs < 3) label = v;
            else {
                PyErr_Format(PyExc_TypeError, "track() got an unexpected keyword argument '%U'", key);
                return NULL;
            }
        }
    }
    PyObject *fast = PyDict_GetItemWithError(g_fast, (PyObject *)Py_TYPE(obj)); /* borrowed */
    if (fast == NULL && PyErr_Occurred()) return NULL;
    int plain = fast != NULL && PyTuple_CheckExact(fast) && PyTuple_GET_SIZE(fast) == 2;
    if (plain) {
        int truth;
        if ((truth = PyObject_IsTrue(kind)) != 0) plain = 0;
        if (truth < 0) return NULL;
        if (plain && (truth = PyObject_IsTrue(label)) != 0) plain = 0;
        if (truth < 0) return NULL;
        if (plain && suppresses != NULL && (truth = PyObject_IsTrue(suppresses)) != 0) plain = 0;
        if (truth < 0) return NULL;
    }
    if (!plain) {
        PyObject *empty = NULL;
        if (suppresses == NULL) suppresses = empty = PyTuple_New(0);
        if (suppresses == NULL) return NULL;
        PyObject *r = PyObject_CallFunctionObjArgs(g_track_slow, obj, kind, label, suppresses, recorder, NULL);
        Py_XDECREF(empty);
        return r;
    }
    PyObject *rec;
    if (recorder != Py_None) {
        rec = Py_NewRef(recorder);
    } else {
        if (PyContextVar_Get(g_active, NULL, &rec) < 0) return NULL;
        if (rec == NULL || rec == Py_None) {
            Py_XDECREF(rec);
            rec = PyObject_CallNoArgs(g_current_recorder);
            if (rec == NULL) return NULL;
        }
    }
    PyTypeObject *cls = (PyTypeObject *)PyTuple_GET_ITEM(fast, 0);
    if (!PyType_Check(cls) || !PyType_IsSubtype(cls, &HandleType)) {
        Py_DECREF(rec);
        PyErr_SetString(PyExc_TypeError, "track(): bad fast-path entry");
        return NULL;
    }
    PyObject *s = PyList_New(6);
    if (s == NULL) {
        Py_DECREF(rec);
        return NULL;
    }
    PyList_SET_ITEM(s, 0, Py_NewRef(obj));
    PyList_SET_ITEM(s, 1, rec);
    PyList_SET_ITEM(s, 2, Py_NewRef(PyTuple_GET_ITEM(fast, 1)));
    PyList_SET_ITEM(s, 3, PyLong_FromLong(-1)); /* _NONE */
    PyList_SET_ITEM(s, 4, Py_NewRef(Py_None));
    PyList_SET_ITEM(s, 5, Py_NewRef(Py_None));
    Handle *h = (Handle *)cls->tp_alloc(cls, 0);
    if (h == NULL) {
        Py_DECREF(s);
        return NULL;
    }
    h->s = s;
    return (PyObject *)h;
}

/* ------------------------------------------------------------------------------- StreamIter */
/* StreamIter(source_iterator, meter, size, inline): `streams._sync_gen` without a generator frame.
 * Per chunk: one call of the source's __next__, a type check and a len, a comparison; every
 * `check` chunks, meter.read(chunks, nbytes) returns the next check point. When the source runs
 * out or raises: meter.ended(chunks, nbytes, exc_or_None), once. close(), or being collected
 * before the end: meter.closed(chunks, nbytes) (the meter records `gc` unless a close() of the
 * stream is under way). */
typedef struct {
    PyObject_HEAD
    PyObject *source; /* the iterable; its iterator once the first chunk is asked for */
    int started;
    PyObject *meter;
    PyObject *size;
    long long chunks, nbytes, check;
    int inline_size;
    int finished; /* ended or closed: no more chunks, no more meter calls */
    int running;
} StreamIter;

static int stream_traverse(StreamIter *self, visitproc visit, void *arg) {
    Py_VISIT(self->source);
    Py_VISIT(self->meter);
    Py_VISIT(self->size);
    return 0;
}

static int stream_clear(StreamIter *self) {
    Py_CLEAR(self->source);
    Py_CLEAR(self->meter);
    Py_CLEAR(self->size);
    return 0;
}

static PyObject *stream_new(PyTypeObject *tp, PyObject *args, PyObject *kwds) {
    PyObject *source, *meter, *size;
    int inline_size;
    static char *kwlist[] = {"source", "meter", "size", "inline", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOOp", kwlist, &source, &meter, &size, &inline_size)) return NULL;
    StreamIter *self = (StreamIter *)tp->tp_alloc(tp, 0);
    if (self == NULL) return NULL;
    self->source = Py_NewRef(source);
    self->meter = Py_NewRef(meter);
    self->size = Py_NewRef(size);
    self->inline_size = inline_size;
    self->check = 1;
    return (PyObject *)self;
}

static int stream_call_meter(StreamIter *self, PyObject *name, PyObject *exc) {
    PyObject *c = PyLong_FromLongLong(self->chunks), *b = PyLong_FromLongLong(self->nbytes);
    PyObject *r = NULL;
    if (c != NULL && b != NULL) {
        r = exc == NULL ? PyObject_CallMethodObjArgs(self->meter, name, c, b, NULL)
                        : PyObject_CallMethodObjArgs(self->meter, name, c, b, exc, NULL);
    }
    Py_XDECREF(c);
    Py_XDECREF(b);
    if (r == NULL) return -1;
    Py_DECREF(r);
    return 0;
}

/* The source (or the size function) raised the pending exception: the stream ended with it.
 * Returns NULL with the exception still pending. */
static PyObject *stream_failed(StreamIter *self) {
    PyObject *type, *value, *tb;
    fetch_normalized(&type, &value, &tb);
    if (value != NULL && stream_call_meter(self, s_ended, value) < 0) report_failure(s_stream_what);
    PyErr_Restore(type, value, tb);
    return NULL;
}

static PyObject *stream_next(StreamIter *self) {
    if (self->finished) return NULL;
    if (self->running) {
        PyErr_SetString(PyExc_ValueError, "generator already executing");
        return NULL;
    }
    self->running = 1;
    PyObject *chunk = NULL;
    if (!self->started) { /* like `for chunk in source` in the generator: iter() at the first chunk */
        PyObject *it = PyObject_GetIter(self->source);
        if (it != NULL) {
            Py_SETREF(self->source, it);
            self->started = 1;
        }
    }
    if (self->started) chunk = Py_TYPE(self->source)->tp_iternext(self->source);
    self->running = 0;
    if (chunk == NULL) {
        self->finished = 1;
        if (!PyErr_Occurred() || PyErr_ExceptionMatches(PyExc_StopIteration)) {
            PyErr_Clear();
            if (stream_call_meter(self, s_ended, Py_None) < 0) report_failure(s_stream_what);
            return NULL;
        }
        return stream_failed(self);
    }
    self->chunks += 1;
    if (self->inline_size && PyBytes_CheckExact(chunk)) {
        self->nbytes += PyBytes_GET_SIZE(chunk);
    } else {
        PyObject *n = PyObject_CallOneArg(self->size, chunk);
        long long k = n == NULL ? -1 : PyLong_AsLongLong(n);
        Py_XDECREF(n);
        if (k == -1 && PyErr_Occurred()) { /* the size function failed: the consumer sees it, as with the generator */
            Py_DECREF(chunk);
            self->finished = 1;
            return stream_failed(self);
        }
        self->nbytes += k;
    }
    if (self->chunks >= self->check) {
        PyObject *c = PyLong_FromLongLong(self->chunks), *b = PyLong_FromLongLong(self->nbytes);
        PyObject *r = (c && b) ? PyObject_CallMethodObjArgs(self->meter, s_read, c, b, NULL) : NULL;
        Py_XDECREF(c);
        Py_XDECREF(b);
        long long nxt = r == NULL ? -1 : PyLong_AsLongLong(r);
        Py_XDECREF(r);
        if (nxt == -1 && PyErr_Occurred()) {
            report_failure(s_stream_what);
            nxt = self->chunks + 1;
        }
        self->check = nxt;
    }
    return chunk;
}

static PyObject *stream_close(StreamIter *self, PyObject *Py_UNUSED(ignored)) {
    if (!self->finished) {
        self->finished = 1;
        if (stream_call_meter(self, s_closed, NULL) < 0) report_failure(s_stream_what);
    }
    Py_RETURN_NONE;
}

static void stream_finalize(PyObject *op) {
    StreamIter *self = (StreamIter *)op;
    if (self->finished) return;
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    self->finished = 1;
    if (stream_call_meter(self, s_closed, NULL) < 0) report_failure(s_stream_what);
    PyErr_Restore(type, value, tb);
}

static void stream_dealloc(StreamIter *self) {
    if (PyObject_CallFinalizerFromDealloc((PyObject *)self) < 0) return; /* resurrected */
    PyObject_GC_UnTrack(self);
    stream_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef stream_methods[] = {
    {"close", (PyCFunction)stream_close, METH_NOARGS, "Stop: no more chunks; records the stop with the meter."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject StreamIterType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "withscope.core._speedups.StreamIter",
    .tp_basicsize = sizeof(StreamIter),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "The chunk counter of a sync tracked stream (see streams._sync_gen).",
    .tp_traverse = (traverseproc)stream_traverse,
    .tp_clear = (inquiry)stream_clear,
    .tp_dealloc = (destructor)stream_dealloc,
    .tp_finalize = stream_finalize,
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = (iternextfunc)stream_next,
    .tp_methods = stream_methods,
    .tp_new = stream_new,
};

/* ----------------------------------------------------------------------------- fold_releases */
/* fold_releases(events, outcome, released_ns) -> (released ids, other events)
 * The clean releases (3-tuples (RELEASE, lid, t_ns)) of open rows are folded into the `outcome`
 * ('b') and `released_ns' ('q') arrays; the ids folded are returned in order. Every other event
 * is returned for the Python fold, in order, and so is every event of a lid after its first
 * RELEASE with an outcome or ABORT was passed on: per lid, events are folded in buffer order
 * (the first release wins). Clean releases of unknown or already released rows are skipped, as
 * the Python fold does. The caller folds the acquisitions of the batch first. */
static PyObject *fold_releases(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "fold_releases(events, outcome, released_ns)");
        return NULL;
    }
    PyObject *events = args[0];
    if (!PyList_Check(events)) {
        PyErr_SetString(PyExc_TypeError, "events must be a list");
        return NULL;
    }
    Py_buffer out, rel;
    if (PyObject_GetBuffer(args[1], &out, PyBUF_WRITABLE | PyBUF_FORMAT) < 0) return NULL;
    if (PyObject_GetBuffer(args[2], &rel, PyBUF_WRITABLE | PyBUF_FORMAT) < 0) {
        PyBuffer_Release(&out);
        return NULL;
    }
    PyObject *released = NULL, *other = NULL, *deferred = NULL, *result = NULL;
    if (out.itemsize != 1 || rel.itemsize != 8 || strcmp(out.format, "b") != 0 || strcmp(rel.format, "q") != 0) {
        PyErr_SetString(PyExc_TypeError, "outcome must be array('b') and released_ns array('q')");
        goto done;
    }
    signed char *outcome = (signed char *)out.buf;
    long long *released_ns = (long long *)rel.buf;
    Py_ssize_t size = out.len < rel.len / 8 ? out.len : rel.len / 8;
    released = PyList_New(0);
    other = PyList_New(0);
    deferred = PySet_New(NULL);
    if (released == NULL || other == NULL || deferred == NULL) goto done;
    Py_ssize_t n = PyList_GET_SIZE(events);
    /* Once a release with an outcome was passed on, the Python fold appends it to the released ids
     * after every id folded here: pass on every later release too, so that the released ids keep
     * buffer order (as with the pure-Python fold). */
    int passing = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *ev = PyList_GET_ITEM(events, i);
        Py_ssize_t len = PyTuple_CheckExact(ev) ? PyTuple_GET_SIZE(ev) : 0;
        PyObject *code = len >= 2 ? PyTuple_GET_ITEM(ev, 0) : NULL;
        long c = code != NULL && PyLong_CheckExact(code) ? PyLong_AsLong(code) : -1;
        if (c == -1 && PyErr_Occurred()) goto done;
        if ((c == CODE_RELEASE || c == CODE_ABORT) && len != 3) { /* a RELEASE with an outcome, or an ABORT */
            if (PySet_Add(deferred, PyTuple_GET_ITEM(ev, 1)) < 0) goto done;
            if (c == CODE_RELEASE) passing = 1;
        } else if (c == CODE_RELEASE && !passing && PyLong_CheckExact(PyTuple_GET_ITEM(ev, 1))) {
            PyObject *lid_o = PyTuple_GET_ITEM(ev, 1);
            int later = PySet_GET_SIZE(deferred) ? PySet_Contains(deferred, lid_o) : 0;
            if (later < 0) goto done;
            if (!later) {
                Py_ssize_t lid = PyLong_AsSsize_t(lid_o);
                long long t = PyLong_AsLongLong(PyTuple_GET_ITEM(ev, 2));
                if (PyErr_Occurred()) goto done;
                if (lid < 0 || lid >= size || outcome[lid] != OUT_OPEN) continue; /* unknown, or already released */
                released_ns[lid] = t;
                outcome[lid] = OUT_RELEASED;
                if (PyList_Append(released, lid_o) < 0) goto done;
                continue;
            }
        }
        if (PyList_Append(other, ev) < 0) goto done;
    }
    result = PyTuple_Pack(2, released, other);
done:
    PyBuffer_Release(&out);
    PyBuffer_Release(&rel);
    Py_XDECREF(released);
    Py_XDECREF(other);
    Py_XDECREF(deferred);
    return result;
}

/* ---------------------------------------------------------------------------------- configure */
static PyObject *configure(PyObject *Py_UNUSED(module), PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"skip_files", "thread_me", "get_running_loop", "current_task", "failed", "fast",
                             "track_slow", "active", "current_recorder", "before_with", "send", "get_awaitable",
                             "current_tasks", "loop_in_thread_state", NULL};
    PyObject *skip = NULL, *me = NULL, *loop = NULL, *task = NULL, *failed = NULL, *fast = NULL, *slow = NULL,
             *active = NULL, *current = NULL, *tasks = Py_None;
    int bw = -2, send = -2, ga = -2, loop_in_ts = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|$O!OOOOO!OOOiiiOp", kwlist, &PySet_Type, &skip, &me, &loop, &task,
                                     &failed, &PyDict_Type, &fast, &slow, &active, &current, &bw, &send, &ga,
                                     &tasks, &loop_in_ts))
        return NULL;
    if (!skip || !me || !loop || !task || !failed || !fast || !slow || !active || !current || bw == -2 ||
        send == -2 || ga == -2) { /* every argument but current_tasks is required */
        PyErr_SetString(PyExc_TypeError, "configure() is missing a required keyword argument");
        return NULL;
    }
    if (!PyContextVar_CheckExact(active)) {
        PyErr_SetString(PyExc_TypeError, "active must be a ContextVar");
        return NULL;
    }
    Py_XSETREF(g_skip_files, Py_NewRef(skip));
    Py_XSETREF(g_thread_me, Py_NewRef(me));
    Py_XSETREF(g_get_running_loop, Py_NewRef(loop));
    Py_XSETREF(g_current_task, Py_NewRef(task));
    Py_XSETREF(g_failed, Py_NewRef(failed));
    Py_XSETREF(g_fast, Py_NewRef(fast));
    Py_XSETREF(g_track_slow, Py_NewRef(slow));
    Py_XSETREF(g_active, Py_NewRef(active));
    Py_XSETREF(g_current_recorder, Py_NewRef(current));
    Py_CLEAR(g_last_me);
    Py_XSETREF(g_current_tasks, PyDict_CheckExact(tasks) ? Py_NewRef(tasks) : NULL);
    g_loop_in_ts = loop_in_ts;
    g_send = send;
    g_get_awaitable = ga;
    g_before_with = bw;
    g_configured = 1;
    Py_RETURN_NONE;
}

static PyObject *now(PyObject *Py_UNUSED(module), PyObject *Py_UNUSED(ignored)) {
    return PyLong_FromLongLong(now_ns());
}

static PyMethodDef module_methods[] = {
    {"configure", (PyCFunction)(void (*)(void))configure, METH_VARARGS | METH_KEYWORDS,
     "Hand the accelerator the Python objects it calls (core.track does this at import)."},
    {"track", (PyCFunction)(void (*)(void))fast_track, METH_FASTCALL | METH_KEYWORDS,
     "track(obj, kind=None, label=None, *, suppresses=(), recorder=None)\n--\n\n"
     "Return a tracked handle for `obj` (a context manager, sync or async, or a closeable object).\n\n"
     "`kind` defaults from the type (`file`, `socket`, `db.connection`, ...), `label` to something\n"
     "a person recognises (a path, a peer address, a DSN without password). `suppresses` lists\n"
     "the exception types the manager is meant to swallow (others swallowed raise an alert).\n"
     "Records into `recorder`, else the active recorder (see `Recorder`). A handle is returned\n"
     "as is. Raises TypeError for an object that is neither a context manager nor closeable.\n\n"
     "(The C fast path of withscope.core.track._track_py, which documents the same contract.)"},
    {"fold_releases", (PyCFunction)(void (*)(void))fold_releases, METH_FASTCALL,
     "fold_releases(events, outcome, released_ns) -> (released ids, other events)"},
    {"now", (PyCFunction)now, METH_NOARGS, "The clock the hot path reads (time.perf_counter_ns)."},
    {"after_fork_in_child", (PyCFunction)after_fork_in_child, METH_NOARGS,
     "Note the new process id (os.register_at_fork(after_in_child=...))."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moduledef = {
    PyModuleDef_HEAD_INIT, "withscope.core._speedups", "The C accelerator of withscope's recording hot path.", -1,
    module_methods,
};

#define INTERN(var, text)                                  \
    do {                                                   \
        if ((var = PyUnicode_InternFromString(text)) == NULL) return NULL; \
    } while (0)

PyMODINIT_FUNC PyInit__speedups(void) {
    INTERN(s_enter, "__enter__");
    INTERN(s_exit, "__exit__");
    INTERN(s_aenter, "__aenter__");
    INTERN(s_aexit, "__aexit__");
    INTERN(s_hot, "_hot");
    INTERN(s_arm, "_arm");
    INTERN(s_slow_enter, "_slow_enter");
    INTERN(s_relieve, "relieve");
    INTERN(s_take, "_take");
    INTERN(s_end, "_end");
    INTERN(s_exited, "_exited");
    INTERN(s_append, "append");
    INTERN(s_get_name, "get_name");
    INTERN(s_read, "read");
    INTERN(s_closed, "closed");
    INTERN(s_ended, "ended");
    INTERN(s_acquisition, "an acquisition");
    INTERN(s_release_what, "a release");
    INTERN(s_stream_what, "stream progress");
    INTERN(s_kind, "kind");
    INTERN(s_label, "label");
    INTERN(s_suppresses, "suppresses");
    INTERN(s_recorder, "recorder");
#ifdef READ_LOOP_HOLDER
    INTERN(s_loop_key, "__asyncio_running_event_loop__");
    g_pid = getpid();
#endif
    if ((g_one = PyLong_FromLong(1)) == NULL || (g_zero = PyLong_FromLong(0)) == NULL) return NULL;
    if (PyType_Ready(&HandleType) < 0 || PyType_Ready(&StreamIterType) < 0 || PyType_Ready(&AwaitType) < 0 ||
        PyType_Ready(&EventBufType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&moduledef);
    if (m == NULL) return NULL;
    static PyMethodDef hot_gone_def = {"_hot_gone", (PyCFunction)hot_gone, METH_O, NULL};
    g_hot_gone = PyCFunction_New(&hot_gone_def, NULL);
    if (g_hot_gone == NULL) {
        Py_DECREF(m);
        return NULL;
    }
    if (PyModule_AddObjectRef(m, "HandleBase", (PyObject *)&HandleType) < 0 ||
        PyModule_AddObjectRef(m, "StreamIter", (PyObject *)&StreamIterType) < 0 ||
        PyModule_AddObjectRef(m, "EventBuf", (PyObject *)&EventBufType) < 0 ||
        PyModule_AddIntMacro(m, CODE_ACQUIRE) < 0 || PyModule_AddIntMacro(m, CODE_RELEASE) < 0 ||
        PyModule_AddIntMacro(m, CODE_ABORT) < 0 || PyModule_AddIntMacro(m, OUT_OPEN) < 0 ||
        PyModule_AddIntMacro(m, OUT_RELEASED) < 0 || PyModule_AddIntMacro(m, OUT_RELEASED_WITH_ERROR) < 0 ||
        PyModule_AddIntMacro(m, OUT_EXIT_RAISED) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
