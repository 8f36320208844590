package dev.jgrad.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
}
