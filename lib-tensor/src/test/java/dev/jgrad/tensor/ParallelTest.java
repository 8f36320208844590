package dev.jgrad.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.concurrent.atomic.AtomicInteger;
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
    void everyTaskRunsExactlyOnce() {
        for (int threads : new int[] {1, 2, 3}) {
            Parallel.setThreads(threads);
            for (int tasks : new int[] {0, 1, 2, 3, 7, 100, 1000}) {
                var runs = new AtomicIntegerArray(tasks);
                Parallel.forEachTask(tasks, runs::incrementAndGet);
                for (int i = 0; i < tasks; i++) {
                    assertEquals(1, runs.get(i), "task " + i + " of " + tasks + " on " + threads + " threads");
                }
            }
        }
    }

    @Test
    void aFailingTaskReachesTheCallerAfterEveryMemberHasStopped() {
        Parallel.setThreads(3);
        var running = new AtomicInteger();
        var failure = new IllegalStateException("task 5 failed");
        var thrown = assertThrows(IllegalStateException.class, () -> Parallel.forEachTask(64, i -> {
            running.incrementAndGet();
            try {
                sleepQuietly(1);
                if (i == 5) {
                    throw failure;
                }
            } finally {
                running.decrementAndGet();
            }
        }));
        Throwable cause = thrown;   // the fork-join pool rethrows a failure from another thread wrapped in a copy
        while (cause != failure && cause.getCause() != null) {
            cause = cause.getCause();
        }
        assertSame(failure, cause);
        assertEquals(0, running.get(), "a task was still running when forEachTask returned");
    }

    @Test
    void nestedCallsRunInlineOnTheWorker() {
        Parallel.setThreads(2);
        var inner = new AtomicIntegerArray(4 * 5);
        Parallel.forEachTask(4, i -> {
            Thread outer = Thread.currentThread();
            Parallel.forEachTask(5, j -> {
                assertSame(outer, Thread.currentThread());
                inner.incrementAndGet(i * 5 + j);
            });
        });
        for (int k = 0; k < inner.length(); k++) {
            assertEquals(1, inner.get(k));
        }
    }

    private static void sleepQuietly(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
