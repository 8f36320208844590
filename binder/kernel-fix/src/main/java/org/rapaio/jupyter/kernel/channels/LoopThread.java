package org.rapaio.jupyter.kernel.channels;

import java.util.concurrent.CountDownLatch;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Replacement for rapaio-jupyter-kernel 3.0.1's {@code LoopThread}, with the same name and public API, put before
 * the kernel's jar on the class path. The shell, control and heartbeat channels each run their socket loop on one
 * of these threads.
 *
 * <p>The original makes about one kernel start in ten never answer, through two start-up races:
 * <ol>
 *   <li>{@code start()} called {@code Thread.start()} before setting {@code running}, so the new thread could read
 *       {@code running == false} and end before its first iteration, leaving that channel dead. Here
 *       {@code running} is set before the thread starts.</li>
 *   <li>{@code Channels.connect} binds the sockets and starts these loops before it fills its message-handler map,
 *       so a request arriving in between made the shell loop dereference a null map; the exception ended the
 *       thread. Here every loop first waits on the start gate that was installed when it was created
 *       ({@link #holdLoopsUntil}); {@code dev.jgrad.kernel.JgradKernel} opens it once {@code connect} has
 *       returned. Requests that arrive meanwhile wait in the socket's queue. Opening a {@link CountDownLatch} also
 *       makes everything {@code connect} wrote (the handler map included) visible to the loop threads.</li>
 * </ol>
 *
 * <p>An exception thrown by one iteration is logged and the loop goes on: a kernel whose shell thread died
 * silently looks hung to the user forever, while a logged error on one message leaves it usable.
 */
public final class LoopThread extends Thread {

    private static final Logger LOGGER = Logger.getLogger(LoopThread.class.getSimpleName());
    private static final CountDownLatch OPEN = new CountDownLatch(0);
    private static volatile CountDownLatch nextGate = OPEN;

    private final long sleepMillis;
    private final Runnable loopBody;
    private final CountDownLatch startGate;
    private volatile boolean running;

    public LoopThread(String name, long sleepMillis, Runnable loopBody) {
        super(name);
        this.sleepMillis = sleepMillis;
        this.loopBody = loopBody;
        this.startGate = nextGate;
    }

    /**
     * Loops created from now on run their first iteration only once {@code gate} reaches zero. Without a call to
     * this method loops start at once, as in the original.
     */
    public static void holdLoopsUntil(CountDownLatch gate) {
        nextGate = gate;
    }

    @Override
    public synchronized void start() {
        running = true;
        super.start();
    }

    @Override
    public void run() {
        try {
            startGate.await();
            while (running) {
                runOneIteration();
                Thread.sleep(sleepMillis);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            running = false;
        }
    }

    private void runOneIteration() {
        try {
            loopBody.run();
        } catch (RuntimeException e) {
            if (running) {
                LOGGER.log(Level.SEVERE, getName() + ": loop iteration failed, continuing", e);
            }
        }
    }

    public void shutdown() {
        running = false;
    }
}
