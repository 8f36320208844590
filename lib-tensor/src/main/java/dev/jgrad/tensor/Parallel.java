package dev.jgrad.tensor;

import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinWorkerThread;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.IntConsumer;
import java.util.function.Supplier;

/**
 * jgrad's threads and the global thread-count setting (like {@code torch.set_num_threads}). Kernels split work
 * into tasks and hand them to {@link #forEachTask}; with one thread everything runs inline on the caller, so
 * single-threaded runs have no scheduling overhead at all.
 *
 * <p>Kernel tasks run on a {@link Team}: the caller plus {@code threads - 1} helper threads that, after a job,
 * spin for {@link Team#SPIN_NANOS} waiting for the next one before they park, the way OpenMP runtimes keep their
 * threads. A training step is hundreds of kernels of tens of microseconds each, back to back; handing each to
 * sleeping fork-join workers cost a wake-up of 5 to 90 us per kernel, which made two threads slower than one for
 * GPT-small. {@link #pool()} is a separate fork-join pool for coarse work (data-parallel workers), inside which
 * kernels run inline.
 *
 * <p>Kernels that run every training step hand their work over as a {@link RangeTask} taken from a
 * {@link TaskCache} rather than as a lambda: a lambda capturing a kernel's arrays and sizes is a new object on
 * every call, a few hundred per step, while a cached task is reused and a steady-state call allocates nothing.
 */
public final class Parallel {
    private static volatile int threads = defaultThreads();
    private static volatile ForkJoinPool pool;
    /** Numbers the workers for their names (the pool index is not yet assigned when the factory runs). */
    private static final AtomicInteger workerCount = new AtomicInteger();

    private Parallel() {}

    private static int defaultThreads() {
        String env = System.getenv("JGRAD_THREADS");
        if (env != null && !env.isBlank()) {
            try {
                int n = Integer.parseInt(env.trim());
                if (n >= 1) {
                    return n;
                }
            } catch (NumberFormatException ignored) {
                // fall through to the machine's core count
            }
        }
        return Runtime.getRuntime().availableProcessors();
    }

    /** Number of threads kernels may use. Defaults to {@code JGRAD_THREADS} or the number of cores. */
    public static int threads() {
        return threads;
    }

    /** Sets the number of threads kernels may use (at least 1). */
    public static synchronized void setThreads(int n) {
        if (n < 1) {
            throw new IllegalArgumentException("Parallel.setThreads: thread count must be >= 1, got " + n);
        }
        if (n != threads) {
            threads = n;
            Team oldTeam = team;
            team = null;
            if (oldTeam != null) {
                oldTeam.stop();
            }
            ForkJoinPool old = pool;
            pool = null;
            if (old != null) {
                old.shutdown();
            }
        }
    }

    /** The pool with {@link #threads()} workers, created on first use. */
    public static ForkJoinPool pool() {
        ForkJoinPool p = pool;
        if (p == null) {
            synchronized (Parallel.class) {
                p = pool;
                if (p == null) {
                    p = new ForkJoinPool(threads, pool -> {
                        var t = ForkJoinPool.defaultForkJoinWorkerThreadFactory.newThread(pool);
                        t.setName("jgrad-" + workerCount.getAndIncrement());
                        t.setDaemon(true);
                        return t;
                    }, null, false);
                    pool = p;
                }
            }
        }
        return p;
    }

    /**
     * Runs {@code body.accept(i)} for every task index i in [0, tasks), spreading the tasks over the caller and
     * the team's helpers. Runs inline when there is one thread or one task, when the caller is already running a
     * task (no nesting) or is a worker of {@link #pool()}, and when another thread is using the team (two
     * callers at once each keep to their own thread rather than oversubscribing the cores). Tasks must write
     * disjoint outputs; which thread runs a task never changes a result. The first exception a task throws is
     * rethrown here once every task has finished.
     */
    public static void forEachTask(int tasks, IntConsumer body) {
        if (tasks <= 0) {
            return;
        }
        int n = threads;
        if (tasks == 1 || n == 1 || Thread.currentThread() instanceof ForkJoinWorkerThread w && w.getPool() == pool) {
            runInline(tasks, body);
            return;
        }
        Team t = team();
        if (t == null || !t.run(tasks, body)) {
            runInline(tasks, body);
        }
    }

    private static void runInline(int tasks, IntConsumer body) {
        for (int i = 0; i < tasks; i++) {
            body.accept(i);
        }
    }

    /**
     * Runs {@code task} over [0, n) split into {@code parts} ranges, each handed to {@link #forEachTask} as one
     * task, then clears the task and returns it to its {@link TaskCache}. Range t is [start(t), start(t + 1)) with
     * {@code start(t) = min(n, blocks * t / parts * align)} and {@code blocks = ceil(n / align)}: boundaries fall on
     * multiples of {@code align} (a vector length, say, so each element takes the same code path for any split)
     * and the ranges differ in size by at most one block.
     */
    public static void forEachRange(int n, int parts, int align, RangeTask task) {
        try {
            if (n < 0 || parts < 1 || align < 1) {
                throw new IllegalArgumentException("Parallel.forEachRange: need n >= 0, parts >= 1 and align >= 1, got"
                        + " n=" + n + ", parts=" + parts + ", align=" + align);
            }
            task.split(n, parts, align);
            forEachTask(parts, task.ranges);
        } finally {
            task.clear();
            task.inUse = false;
        }
    }

    /**
     * A kernel's parallel loop body with its arguments in fields, so that it can be reused from call to call where
     * a lambda would capture them into a new object each time. A subclass holds the arguments of one call, set by
     * a method that returns {@code this} so that a call reads
     * {@code Parallel.forEachRange(n, parts, align, CACHE.take().set(...))}; it runs a range of the loop in
     * {@link #run} and drops its array references in {@link #clear}.
     */
    public abstract static class RangeTask {
        private int n;
        private int parts;
        private int align;
        /** Owned by the thread that took the task from its cache, until forEachRange returns. */
        private boolean inUse;
        /** Range t of the current split; made once with the task, not per call. */
        private final IntConsumer ranges = t -> run(start(t), start(t + 1));

        /** Runs the loop body for indices [from, to). */
        protected abstract void run(int from, int to);

        /** Drops references to the call's arrays, so that an idle cached task keeps nothing alive. */
        protected abstract void clear();

        private void split(int n, int parts, int align) {
            this.n = n;
            this.parts = parts;
            this.align = align;
        }

        private int start(int t) {
            long blocks = ((long) n + align - 1) / align;
            return (int) Math.min(n, blocks * t / parts * align);
        }
    }

    /**
     * One reusable {@link RangeTask} per thread, for a kernel called often. {@link #take} hands out the calling
     * thread's task, or a new one while that is in use (the same kernel called from inside one of its own tasks,
     * which runs inline), so a task never serves two calls at once; {@link #forEachRange} gives it back.
     */
    public static final class TaskCache<T extends RangeTask> {
        private final Supplier<T> factory;
        private final ThreadLocal<T> own;

        public TaskCache(Supplier<T> factory) {
            this.factory = factory;
            this.own = ThreadLocal.withInitial(factory);
        }

        /** This thread's task, or a new one if it is in use; either way owned by the caller until forEachRange. */
        public T take() {
            T task = own.get();
            if (((RangeTask) task).inUse) {
                task = factory.get();
            }
            ((RangeTask) task).inUse = true;
            return task;
        }
    }

    private static volatile Team team;

    /** The team for the current thread count, created on first use; null with one thread. */
    private static Team team() {
        Team t = team;
        if (t == null || t.size != threads) {
            synchronized (Parallel.class) {
                t = team;
                if (t == null || t.size != threads) {
                    if (t != null) {
                        t.stop();
                    }
                    t = threads > 1 ? new Team(threads) : null;
                    team = t;
                }
            }
        }
        return t;
    }

    /**
     * The caller and {@code size - 1} helper threads. The caller publishes a job by writing its fields and then
     * {@code generation}; everyone takes task indices from {@code next} until they run out, and the caller waits
     * until {@code unfinished} reaches zero. Helpers spin on the generation for a while after each job, then park.
     *
     * <p>A helper can be slow to notice that a job is over, so the job's fields are rewritten only under a fence:
     * the caller first sets the generation to {@code RETIRED}, then waits until no helper is {@code inside}. A
     * helper announces itself in {@code inside} before it checks the generation again, so either the caller sees
     * it and waits, or it sees RETIRED and stays out (both are volatile accesses, so one of them sees the other).
     */
    static final class Team {
        /** How long a helper keeps polling for the next job before it parks. */
        static final long SPIN_NANOS = 200_000;
        private static final long RETIRED = -1;
        /** How long the caller spins for helpers to finish the last tasks before it parks. */
        static final long WAIT_SPIN_NANOS = 50_000;

        final int size;
        private final Thread[] helpers;
        private final boolean[] parked;
        private final ReentrantLock busy = new ReentrantLock();
        private final ThreadLocal<Boolean> insideTask = ThreadLocal.withInitial(() -> false);
        private volatile boolean stopped;
        private volatile Thread waiter;
        private volatile long generation;
        private long lastGeneration;
        private final AtomicInteger inside = new AtomicInteger();
        // The job, written while the generation is RETIRED and nobody is inside.
        private IntConsumer body;
        private int taskCount;
        private final AtomicInteger next = new AtomicInteger();
        private final AtomicInteger unfinished = new AtomicInteger();
        private final AtomicReference<Throwable> failure = new AtomicReference<>();

        Team(int size) {
            this.size = size;
            this.helpers = new Thread[size - 1];
            this.parked = new boolean[size - 1];
            for (int i = 0; i < helpers.length; i++) {
                int id = i;
                helpers[i] = new Thread(() -> helperLoop(id), "jgrad-team-" + workerCount.getAndIncrement());
                helpers[i].setDaemon(true);
                helpers[i].start();
            }
        }

        /** Runs the job on the team and returns true, or returns false if the team is taken or we are inside it. */
        boolean run(int tasks, IntConsumer job) {
            if (insideTask.get() || stopped || !busy.tryLock()) {
                return false;
            }
            Throwable failed;
            try {
                generation = RETIRED;
                while (inside.get() > 0) {
                    Thread.onSpinWait();
                }
                body = job;
                taskCount = tasks;
                next.set(0);
                unfinished.set(tasks);
                failure.set(null);
                generation = ++lastGeneration;   // publishes the fields above
                for (int i = 0; i < helpers.length; i++) {
                    if (isParked(i)) {
                        LockSupport.unpark(helpers[i]);
                    }
                }
                work();
                awaitHelpers();
                failed = failure.getAndSet(null);
            } finally {
                busy.unlock();
            }
            if (failed instanceof RuntimeException r) {
                throw r;
            }
            if (failed instanceof Error e) {
                throw e;
            }
            if (failed != null) {
                throw new IllegalStateException("Parallel.forEachTask: a task failed: " + failed, failed);
            }
            return true;
        }

        /**
         * Waits for the tasks still running on helpers: spins for {@link #WAIT_SPIN_NANOS}, since they usually end
         * within microseconds, then parks until the helper that finishes the last task unparks it, so that a long
         * task (a large product) does not have this thread burn the core a descheduled helper could run on.
         */
        private void awaitHelpers() {
            long spinUntil = System.nanoTime() + WAIT_SPIN_NANOS;
            int spins = 0;
            while (unfinished.get() > 0) {
                if ((++spins & 255) != 0 || System.nanoTime() < spinUntil) {
                    Thread.onSpinWait();
                    continue;
                }
                waiter = Thread.currentThread();
                // Re-checked after announcing: the helper finishing the last task reads waiter after its
                // decrement, so either it sees this thread and unparks it or this check sees zero.
                if (unfinished.get() > 0) {
                    LockSupport.park(this);
                }
                waiter = null;
            }
        }

        /** Takes and runs tasks of the published job until none are left. */
        private void work() {
            IntConsumer job = body;
            int tasks = taskCount;
            insideTask.set(true);
            try {
                for (int i = next.getAndIncrement(); i < tasks; i = next.getAndIncrement()) {
                    try {
                        job.accept(i);
                    } catch (Throwable t) {
                        failure.compareAndSet(null, t);
                    } finally {
                        if (unfinished.decrementAndGet() == 0) {
                            Thread w = waiter;
                            if (w != null) {
                                LockSupport.unpark(w);
                            }
                        }
                    }
                }
            } finally {
                insideTask.set(false);
            }
        }

        private synchronized boolean isParked(int helper) {
            return parked[helper];
        }

        private synchronized void setParked(int helper, boolean value) {
            parked[helper] = value;
        }

        private void helperLoop(int id) {
            long seen = 0;
            while (!stopped) {
                long spinUntil = System.nanoTime() + SPIN_NANOS;
                int spins = 0;
                long g;
                while (((g = generation) == seen || g == RETIRED) && !stopped) {
                    Thread.onSpinWait();
                    if ((++spins & 255) == 0 && System.nanoTime() > spinUntil) {
                        setParked(id, true);
                        // Re-checked after announcing: a job published before the flag was set is seen here, one
                        // published after it finds the flag and unparks this thread.
                        g = generation;
                        if ((g == seen || g == RETIRED) && !stopped) {
                            LockSupport.park(this);
                        }
                        setParked(id, false);
                        spinUntil = System.nanoTime() + SPIN_NANOS;
                    }
                }
                if (stopped) {
                    return;
                }
                inside.incrementAndGet();
                if (generation == g) {
                    work();
                }
                inside.decrementAndGet();
                seen = g;
            }
        }

        void stop() {
            stopped = true;
            for (Thread helper : helpers) {
                LockSupport.unpark(helper);
            }
        }
    }

    /** Number of chunks worth splitting {@code work} units into, given a minimum useful chunk size. */
    public static int chunks(long work, long minChunk) {
        long n = Math.max(1, work / Math.max(1, minChunk));
        return (int) Math.min(n, threads);
    }
}
