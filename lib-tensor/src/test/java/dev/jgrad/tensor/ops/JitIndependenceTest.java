package dev.jgrad.tensor.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * F32 kernels give the same bits whether they run interpreted or C2-compiled. The surefire JVM cannot show this:
 * by the time a test runs, other tests may have compiled the kernels already. So the ops run in fresh child JVMs
 * ({@link OpFingerprints}): one with {@code -Xint} (never compiled, the Vector API's Java fallback for every lane
 * operation), one with the default JIT that hashes each op's outputs on its first call and again after enough calls
 * for C2, and {@code -XX:+PrintCompilation} shows that C2 really compiled the kernels before the second hash.
 * With the kernels' former {@code lanewise(VectorOperators.EXP/TANH)} this test failed for tanh, sigmoid, silu,
 * softmax, cross-entropy and attention.
 */
class JitIndependenceTest {
    private static final int WARM_CALLS = 15_000;
    /** Kernels that use exp, log or tanh; each must have been compiled by C2 (tier 4) before the warm hashes. */
    private static final List<String> HOT_KERNELS = List.of(
            "dev.jgrad.tensor.kernel.ElementwiseF32::exp",
            "dev.jgrad.tensor.kernel.ElementwiseF32::log",
            "dev.jgrad.tensor.kernel.ElementwiseF32::tanh",
            "dev.jgrad.tensor.kernel.ElementwiseF32::sigmoid",
            "dev.jgrad.tensor.kernel.ElementwiseF32::gelu",
            "dev.jgrad.tensor.kernel.ElementwiseF32::geluBackward",
            "dev.jgrad.tensor.kernel.ElementwiseF32::geluExponentials",   // GELU's exp, called by both
            "dev.jgrad.tensor.kernel.ElementwiseF32::silu",
            "dev.jgrad.tensor.kernel.ElementwiseF32::siluBackward",
            // Softmax's and cross-entropy's exps all run in this array-level loop.
            "dev.jgrad.tensor.kernel.VectorMath::expShiftedSum",
            // Attention's exp loops are small methods that C2 may inline into these before compiling them alone.
            "dev.jgrad.tensor.ops.Attention::forwardHeadF32",
            "dev.jgrad.tensor.ops.Attention::backwardRowGroupF32",
            "dev.jgrad.tensor.kernel.Lanes::dot");

    @Test
    void f32OpsGiveTheSameBitsInterpretedAndC2Compiled() throws Exception {
        List<String> interpreted = runChild(List.of("-Xint"), "cold");
        // -Xbatch: a method that reaches the compile threshold waits for its compiled code, so after WARM_CALLS
        // calls the kernels run C2 code however busy the machine is.
        List<String> jit = runChild(List.of("-Xbatch", "-XX:+PrintCompilation"), "warm", Integer.toString(WARM_CALLS));

        int marker = jit.indexOf(OpFingerprints.WARM_MARKER);
        assertTrue(marker > 0, "the warm child printed no marker:\n" + String.join("\n", jit));
        List<String> beforeMarker = jit.subList(0, marker);
        List<String> notCompiled = new ArrayList<>();
        for (String kernel : HOT_KERNELS) {
            Pattern tier4 = Pattern.compile("\\s4\\s+" + Pattern.quote(kernel) + "[\\s@(]");
            if (beforeMarker.stream().noneMatch(line -> tier4.matcher(line).find())) {
                notCompiled.add(kernel);
            }
        }
        assertEquals(List.of(), notCompiled, "kernels C2 had not compiled after " + WARM_CALLS + " calls");

        Map<String, String> cold = hashes(interpreted);
        Map<String, String> firstCall = hashes(beforeMarker);
        Map<String, String> warm = hashes(jit.subList(marker + 1, jit.size()));
        assertEquals(OpFingerprints.ops().keySet(), cold.keySet(), "ops hashed by the -Xint child");
        assertEquals(cold.keySet(), warm.keySet(), "ops hashed after warm-up");
        List<String> differing = new ArrayList<>();
        cold.forEach((op, hash) -> {
            if (!hash.equals(warm.get(op)) || !hash.equals(firstCall.get(op))) {
                differing.add(op + " (-Xint " + hash + ", first call " + firstCall.get(op) + ", after C2 " + warm.get(op)
                        + ")");
            }
        });
        assertEquals(List.of(), differing, "F32 ops whose bits depend on the JIT state");
    }

    private static Map<String, String> hashes(List<String> lines) {
        Map<String, String> out = new LinkedHashMap<>();
        for (String line : lines) {
            if (line.startsWith("op ")) {
                String[] parts = line.split(" ");
                out.put(parts[1], parts[2]);
            }
        }
        return out;
    }

    private static List<String> runChild(List<String> jvmFlags, String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.add("--add-modules");
        command.add("jdk.incubator.vector");
        command.addAll(jvmFlags);
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.add(OpFingerprints.class.getName());
        command.addAll(List.of(args));
        Process child = new ProcessBuilder(command).redirectErrorStream(true).start();
        byte[] output = child.getInputStream().readAllBytes();
        assertTrue(child.waitFor(5, TimeUnit.MINUTES), "child JVM did not finish: " + command);
        String text = new String(output, StandardCharsets.UTF_8);
        assertEquals(0, child.exitValue(), "child JVM failed: " + command + "\n" + text);
        return text.lines().toList();
    }
}
