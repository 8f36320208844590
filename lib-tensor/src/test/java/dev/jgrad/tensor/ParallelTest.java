package dev.jgrad.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicIntegerArray;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class ParallelTest {
    private final int threadsBefore = Parallel.threads();

    @AfterEach
    void restoreThreads() {
        Parallel.setThreads(threadsBefore);
    }

    @Test
    void everyTaskRunsExactlyOnceInManyBackToBackJobs() {
        Parallel.setThreads(3);
        for (int job = 0; job < 20_000; job++) {
            int tasks = 1 + job % 7;
            var runs = new AtomicIntegerArray(tasks);
            Parallel.forEachTask(tasks, runs::incrementAndGet);
            for (int i = 0; i < tasks; i++) {
                assertEquals(1, runs.get(i), "job " + job + " task " + i);
            }
        }
    }

    @Test
    void tasksRunOnMoreThanOneThread() {
        Parallel.setThreads(2);
        var names = ConcurrentHashMap.<String>newKeySet();
        for (int job = 0; job < 200 && names.size() < 2; job++) {
            Parallel.forEachTask(2, i -> {
                names.add(Thread.currentThread().getName());
                long until = System.nanoTime() + 200_000;
                while (System.nanoTime() < until) {
                    Thread.onSpinWait();
                }
            });
        }
        assertEquals(2, names.size(), "threads seen: " + names);
        assertTrue(names.stream().anyMatch(n -> n.startsWith("jgrad-team-")), "threads seen: " + names);
    }

    @Test
    void aFailingTaskIsRethrownAfterTheOthersFinishAndTheTeamKeepsWorking() {
        Parallel.setThreads(2);
        var runs = new AtomicIntegerArray(8);
        var e = assertThrows(IllegalArgumentException.class, () -> Parallel.forEachTask(8, i -> {
            runs.incrementAndGet(i);
            if (i == 3) {
                throw new IllegalArgumentException("task 3 failed");
            }
        }));
        assertEquals("task 3 failed", e.getMessage());
        for (int i = 0; i < 8; i++) {
            assertEquals(1, runs.get(i), "task " + i);
        }
        var after = new AtomicIntegerArray(5);
        Parallel.forEachTask(5, after::incrementAndGet);
        for (int i = 0; i < 5; i++) {
            assertEquals(1, after.get(i), "task " + i + " of the next job");
        }
    }

    @Test
    void nestedCallsRunInlineInsideATask() {
        Parallel.setThreads(2);
        var runs = new AtomicIntegerArray(4 * 5);
        Parallel.forEachTask(4, outer -> Parallel.forEachTask(5, inner -> runs.incrementAndGet(outer * 5 + inner)));
        for (int i = 0; i < runs.length(); i++) {
            assertEquals(1, runs.get(i), "pair " + i);
        }
    }

    @Test
    void twoCallersAtOnceBothGetEveryTaskDone() throws InterruptedException {
        Parallel.setThreads(2);
        var failures = ConcurrentHashMap.<String>newKeySet();
        Runnable caller = () -> {
            for (int job = 0; job < 5_000; job++) {
                var runs = new AtomicIntegerArray(3);
                Parallel.forEachTask(3, runs::incrementAndGet);
                for (int i = 0; i < 3; i++) {
                    if (runs.get(i) != 1) {
                        failures.add("job " + job + " task " + i + " ran " + runs.get(i) + " times");
                    }
                }
            }
        };
        Thread a = new Thread(caller);
        Thread b = new Thread(caller);
        a.start();
        b.start();
        a.join();
        b.join();
        assertTrue(failures.isEmpty(), failures.toString());
    }

    @Test
    void changingTheThreadCountReplacesTheTeam() {
        for (int n : new int[] {2, 3, 1, 2}) {
            Parallel.setThreads(n);
            var runs = new AtomicIntegerArray(6);
            Parallel.forEachTask(6, runs::incrementAndGet);
            for (int i = 0; i < 6; i++) {
                assertEquals(1, runs.get(i), n + " threads, task " + i);
            }
        }
    }

    @Test
    void theCallerWaitsOutLongTasksOnHelpers() {
        // Tasks far longer than the caller's spin budget: it parks and the helper finishing last must wake it.
        Parallel.setThreads(2);
        assertTimeoutPreemptively(java.time.Duration.ofSeconds(20), () -> {
            for (int job = 0; job < 30; job++) {
                var runs = new AtomicIntegerArray(2);
                Parallel.forEachTask(2, i -> {
                    if (!Thread.currentThread().getName().startsWith("jgrad-team-")) {
                        runs.incrementAndGet(i);
                        return;
                    }
                    try {
                        Thread.sleep(5);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                    runs.incrementAndGet(i);
                });
                assertEquals(1, runs.get(0), "job " + job);
                assertEquals(1, runs.get(1), "job " + job);
            }
        });
    }

    /** Counts how often each index of [0, n) is covered and records the ranges it was given. */
    private static final class Coverage extends Parallel.RangeTask {
        AtomicIntegerArray hits;
        final List<int[]> ranges = java.util.Collections.synchronizedList(new ArrayList<>());
        Runnable inside = () -> {};
        int clears;

        Coverage set(int n) {
            hits = new AtomicIntegerArray(n);
            ranges.clear();
            return this;
        }

        @Override
        protected void run(int from, int to) {
            ranges.add(new int[] {from, to});
            for (int i = from; i < to; i++) {
                hits.incrementAndGet(i);
            }
            inside.run();
        }

        @Override
        protected void clear() {
            hits = null;
            clears++;
        }
    }

    @Test
    void forEachRangeCoversEveryIndexOnceWithBoundariesOnTheAlignment() {
        for (int threads : new int[] {1, 2, 3}) {
            Parallel.setThreads(threads);
            for (int n : new int[] {0, 1, 7, 16, 17, 1000}) {
                for (int parts = 1; parts <= 5; parts++) {
                    for (int align : new int[] {1, 4, 6}) {
                        var task = new Coverage().set(n);
                        AtomicIntegerArray hits = task.hits;
                        Parallel.forEachRange(n, parts, align, task);
                        String where = threads + " threads, n " + n + ", " + parts + " parts, align " + align;
                        for (int i = 0; i < n; i++) {
                            assertEquals(1, hits.get(i), where + ", index " + i);
                        }
                        assertEquals(parts, task.ranges.size(), where);
                        for (int[] r : task.ranges) {
                            assertTrue(r[0] % align == 0 && (r[1] % align == 0 || r[1] == n), where + ": range ["
                                    + r[0] + ", " + r[1] + ")");
                        }
                        assertNull(task.hits, where + ": the task is cleared afterwards");
                    }
                }
            }
        }
    }

    @Test
    void forEachRangeRejectsBadSplitsNamingTheArguments() {
        var e = assertThrows(IllegalArgumentException.class, () -> Parallel.forEachRange(10, 0, 1, new Coverage()));
        assertTrue(e.getMessage().contains("Parallel.forEachRange") && e.getMessage().contains("parts=0"),
                e.getMessage());
    }

    @Test
    void aCachedTaskIsReusedAfterItsCallAndNeverSharedWithANestedOrConcurrentOne() throws InterruptedException {
        Parallel.setThreads(2);
        var cache = new Parallel.TaskCache<>(Coverage::new);
        Coverage first = cache.take();
        Parallel.forEachRange(100, 2, 1, first.set(100));
        Coverage again = cache.take();
        assertSame(first, again, "the thread's task is reused once its call is over");
        // Taken again inside its own run (a kernel calling itself from a task): a different task.
        var nested = ConcurrentHashMap.<Coverage>newKeySet();
        again.set(2);
        again.inside = () -> nested.add(cache.take());
        Parallel.forEachRange(2, 2, 1, again);
        assertTrue(nested.stream().noneMatch(t -> t == again), "a task in use is not handed out again");
        // Another thread has a task of its own.
        var other = new Coverage[1];
        Thread t = new Thread(() -> other[0] = cache.take());
        t.start();
        t.join();
        assertNotSame(cache.take(), other[0]);
    }

    @Test
    void aTaskThatThrowsIsStillClearedAndGivenBack() {
        Parallel.setThreads(2);
        var cache = new Parallel.TaskCache<>(Coverage::new);
        Coverage task = cache.take().set(8);
        task.inside = () -> {
            throw new IllegalStateException("boom");
        };
        assertThrows(IllegalStateException.class, () -> Parallel.forEachRange(8, 4, 1, task));
        assertEquals(1, task.clears);
        assertSame(task, cache.take(), "given back despite the exception");
    }
}
