package org.rapaio.jupyter.kernel.channels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class LoopThreadTest {

    private static final long SLEEP_MILLIS = 1;

    @AfterEach
    void openTheGateForOtherTests() {
        LoopThread.holdLoopsUntil(new CountDownLatch(0));
    }

    /** The original could read running == false in the new thread and end before the first iteration. */
    @Test
    void everyStartedLoopRunsItsBodyAtLeastOnce() throws InterruptedException {
        int loops = 500;
        CountDownLatch allRan = new CountDownLatch(loops);
        List<LoopThread> threads = new ArrayList<>();
        for (int i = 0; i < loops; i++) {
            var ranOnce = new AtomicInteger();
            LoopThread thread = new LoopThread("loop-" + i, SLEEP_MILLIS, () -> {
                if (ranOnce.getAndIncrement() == 0) {
                    allRan.countDown();
                }
            });
            thread.start();
            threads.add(thread);
        }
        boolean ran = allRan.await(30, TimeUnit.SECONDS);
        stopAll(threads);
        assertTrue(ran, (loops - (int) allRan.getCount()) + " of " + loops + " loops ran; the others ended at once");
    }

    @Test
    void heldLoopsRunOnlyOnceTheGateOpens() throws InterruptedException {
        CountDownLatch gate = new CountDownLatch(1);
        LoopThread.holdLoopsUntil(gate);
        var iterations = new AtomicInteger();
        CountDownLatch firstIteration = new CountDownLatch(1);
        LoopThread thread = new LoopThread("held", SLEEP_MILLIS, () -> {
            iterations.incrementAndGet();
            firstIteration.countDown();
        });
        thread.start();

        assertFalse(firstIteration.await(200, TimeUnit.MILLISECONDS), "the loop ran before its gate opened");
        assertEquals(0, iterations.get());
        gate.countDown();
        assertTrue(firstIteration.await(10, TimeUnit.SECONDS), "the loop did not run after its gate opened");
        stopAll(List.of(thread));
    }

    @Test
    void loopsCreatedBeforeAGateIsInstalledAreNotHeld() throws InterruptedException {
        CountDownLatch ran = new CountDownLatch(1);
        LoopThread thread = new LoopThread("free", SLEEP_MILLIS, ran::countDown);
        LoopThread.holdLoopsUntil(new CountDownLatch(1));
        thread.start();
        assertTrue(ran.await(10, TimeUnit.SECONDS));
        stopAll(List.of(thread));
    }

    @Test
    void aFailingIterationDoesNotEndTheLoop() throws InterruptedException {
        Logger logger = Logger.getLogger(LoopThread.class.getSimpleName());
        Level previous = logger.getLevel();
        logger.setLevel(Level.OFF);
        try {
            var iterations = new AtomicInteger();
            CountDownLatch survived = new CountDownLatch(1);
            LoopThread thread = new LoopThread("flaky", SLEEP_MILLIS, () -> {
                if (iterations.incrementAndGet() == 1) {
                    throw new NullPointerException("first message arrived before its handler");
                }
                survived.countDown();
            });
            thread.start();
            assertTrue(survived.await(10, TimeUnit.SECONDS), "the loop ended with its first failing iteration");
            stopAll(List.of(thread));
        } finally {
            logger.setLevel(previous);
        }
    }

    @Test
    void shutdownEndsTheLoop() throws InterruptedException {
        CountDownLatch ran = new CountDownLatch(1);
        LoopThread thread = new LoopThread("stopped", SLEEP_MILLIS, ran::countDown);
        thread.start();
        assertTrue(ran.await(10, TimeUnit.SECONDS));
        thread.shutdown();
        thread.join(10_000);
        assertFalse(thread.isAlive(), "the loop is still running after shutdown()");
    }

    private static void stopAll(List<LoopThread> threads) throws InterruptedException {
        threads.forEach(LoopThread::shutdown);
        for (LoopThread thread : threads) {
            thread.join(10_000);
        }
    }
}
