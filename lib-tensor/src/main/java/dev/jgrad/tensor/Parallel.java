package dev.jgrad.tensor;

import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinWorkerThread;
import java.util.concurrent.RecursiveAction;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerFieldUpdater;
import java.util.function.IntConsumer;

/**
 * jgrad's own thread pool and the global thread-count setting (like {@code torch.set_num_threads}). Kernels
 * split work into index ranges and hand them to {@link #forRange}; with one thread everything runs inline on
 * the caller, so single-threaded runs have no scheduling overhead at all.
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
     * Runs {@code body.accept(i)} for every task index i in [0, tasks), spreading the tasks over the pool.
     * Runs inline when there is one thread, one task, or the caller is already a jgrad worker (no nesting).
     */
    public static void forEachTask(int tasks, IntConsumer body) {
        if (tasks <= 0) {
            return;
        }
        if (tasks == 1 || threads == 1 || Thread.currentThread() instanceof ForkJoinWorkerThread w && w.getPool() == pool) {
            for (int i = 0; i < tasks; i++) {
                body.accept(i);
            }
            return;
        }
        Team team = new Team(body, tasks);
        pool().invoke(new Member(team, Math.min(tasks, threads) - 1));
    }

    /** Number of chunks worth splitting {@code work} units into, given a minimum useful chunk size. */
    public static int chunks(long work, long minChunk) {
        long n = Math.max(1, work / Math.max(1, minChunk));
        return (int) Math.min(n, threads);
    }

    /**
     * The tasks of one {@link #forEachTask} call, handed out one index at a time to whichever member asks next.
     * A call costs one team and one member per thread rather than a fork-join task per index (a GEMM splits into
     * dozens), and a member that finishes early simply takes more indices.
     */
    private static final class Team {
        private static final AtomicIntegerFieldUpdater<Team> NEXT =
                AtomicIntegerFieldUpdater.newUpdater(Team.class, "next");

        private final IntConsumer body;
        private final int tasks;
        private volatile int next;

        Team(IntConsumer body, int tasks) {
            this.body = body;
            this.tasks = tasks;
        }

        /** Runs unclaimed tasks until none are left; a task that throws ends the hand-out for every member. */
        void work() {
            try {
                for (int i = NEXT.getAndIncrement(this); i < tasks; i = NEXT.getAndIncrement(this)) {
                    body.accept(i);
                }
            } catch (Throwable failure) {
                next = tasks;
                throw failure;
            }
        }
    }

    /** One pool thread's share of a team's work; it first forks a member for each of the {@code others}. */
    private static final class Member extends RecursiveAction {
        private final Team team;
        private final int others;

        Member(Team team, int others) {
            this.team = team;
            this.others = others;
        }

        @Override
        protected void compute() {
            Member helper = others > 0 ? new Member(team, others - 1) : null;
            if (helper != null) {
                helper.fork();
            }
            try {
                team.work();
            } finally {
                if (helper != null) {
                    helper.quietlyJoin();   // the call returns only once every member has stopped
                }
            }
            if (helper != null) {
                helper.join();   // completed already: rethrows what failed in the members it forked
            }
        }
    }
}
