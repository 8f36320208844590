package dev.jgrad.kernel;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import java.util.logging.LogManager;
import org.rapaio.jupyter.kernel.MainApp;
import org.rapaio.jupyter.kernel.channels.Channels;
import org.rapaio.jupyter.kernel.channels.LoopThread;
import org.rapaio.jupyter.kernel.core.ConnectionProperties;
import org.rapaio.jupyter.kernel.core.Transform;

/**
 * Starts the rapaio Java kernel for Jupyter the way {@code org.rapaio.jupyter.kernel.MainApp} does, except that the
 * channel loops are held until the channels are fully connected (see {@link LoopThread} for the race this closes).
 *
 * <p>Usage (what the {@code jgrad} kernelspec runs): {@code java -cp jgrad-kernel.jar:rapaio-jupyter-kernel.jar
 * dev.jgrad.kernel.JgradKernel CONNECTION_FILE}.
 */
public final class JgradKernel {

    private JgradKernel() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 1) {
            throw new IllegalArgumentException(
                    "JgradKernel takes exactly one argument, the Jupyter connection file; got " + args.length);
        }
        Path connectionFile = Path.of(args[0]);
        if (!Files.isRegularFile(connectionFile)) {
            throw new IllegalArgumentException("JgradKernel: connection file not found: " + connectionFile);
        }
        useKernelLogging();
        ConnectionProperties connection =
                Transform.fromJson(Files.readString(connectionFile), ConnectionProperties.class);

        CountDownLatch connected = new CountDownLatch(1);
        LoopThread.holdLoopsUntil(connected);
        Channels channels = new Channels(connection);
        channels.connect(MainApp.kernel);
        connected.countDown();
        channels.joinUntilClose();
    }

    /** The kernel's own logging set-up (log lines on stderr, which Jupyter keeps in its server log). */
    private static void useKernelLogging() throws IOException {
        try (InputStream config = MainApp.class.getClassLoader().getResourceAsStream("logging.properties")) {
            if (config != null) {
                LogManager.getLogManager().readConfiguration(config);
            }
        }
    }
}
