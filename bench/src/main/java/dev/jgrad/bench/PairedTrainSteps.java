package dev.jgrad.bench;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.lang.reflect.Method;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;

/**
 * Compares the training step of two or more builds in one JVM: each {@code benchmarks.jar} is loaded by a class
 * loader of its own (its own statics, thread count and JIT-compiled kernels), and their {@link GptTrainStep}s run
 * in turn, step after step, each timed in CPU time of this thread. Alternating steps a few tens of milliseconds
 * long exposes the builds to the same machine load, which on a shared machine moves much more between two
 * separate JVM runs than the few percent a change is worth: the per-step ratio to the first build is the number
 * to read. The last losses are printed too: builds that should give the same bits must show the same.
 *
 * <pre>
 * java --add-modules jdk.incubator.vector -Xms3g -XX:+UseParallelGC -cp bench/target/benchmarks.jar \
 *     dev.jgrad.bench.PairedTrainSteps before.jar,after.jar [small|large] [warmup] [steps] [threads]
 * </pre>
 *
 * With more than one thread the time is the calling thread's only (the pool's helpers are not counted), so use
 * one thread, or {@link TrainAllocation} for all threads' CPU time.
 */
public final class PairedTrainSteps {
    private PairedTrainSteps() {}

    public static void main(String[] args) throws Exception {
        if (args.length < 1) {
            throw new IllegalArgumentException("usage: PairedTrainSteps a.jar,b.jar[,...] [small|large] [warmup] "
                    + "[steps] [threads]");
        }
        String[] jars = args[0].split(",");
        String preset = (args.length > 1 ? args[1] : "small").toUpperCase(Locale.ROOT);
        int warmup = args.length > 2 ? Integer.parseInt(args[2]) : 20;
        int steps = args.length > 3 ? Integer.parseInt(args[3]) : 100;
        int threads = args.length > 4 ? Integer.parseInt(args[4]) : 1;
        int builds = jars.length;
        Object[] trainSteps = new Object[builds];
        Method[] step = new Method[builds];
        for (int i = 0; i < builds; i++) {
            // The platform loader as parent: the build's own classes, not this JVM's class path, are used.
            var loader = new URLClassLoader(new URL[] {Path.of(jars[i]).toUri().toURL()},
                    ClassLoader.getPlatformClassLoader());
            loader.loadClass("dev.jgrad.tensor.Parallel").getMethod("setThreads", int.class).invoke(null, threads);
            Class<?> trainStep = loader.loadClass(GptTrainStep.class.getName());
            Class<?> presets = loader.loadClass(GptTrainStep.Preset.class.getName());
            Object p = presets.getMethod("valueOf", String.class).invoke(null, preset);
            trainSteps[i] = trainStep.getConstructor(presets, long.class).newInstance(p, 42L);
            step[i] = trainStep.getMethod("step");
        }
        for (int s = 0; s < warmup; s++) {
            for (int i = 0; i < builds; i++) {
                step[i].invoke(trainSteps[i]);
            }
        }
        ThreadMXBean cpu = ManagementFactory.getThreadMXBean();
        long[][] nanos = new long[builds][steps];
        double[] lastLoss = new double[builds];
        for (int s = 0; s < steps; s++) {
            for (int turn = 0; turn < builds; turn++) {
                int i = (s + turn) % builds;   // each build goes first as often as the others
                long start = cpu.getCurrentThreadCpuTime();
                lastLoss[i] = (double) step[i].invoke(trainSteps[i]);
                nanos[i][s] = cpu.getCurrentThreadCpuTime() - start;
            }
        }
        System.out.printf("%s, %d thread(s), %d steps after %d warm-up; CPU ms per step of this thread%n",
                preset.toLowerCase(Locale.ROOT), threads, steps, warmup);
        for (int i = 0; i < builds; i++) {
            long[] sorted = nanos[i].clone();
            Arrays.sort(sorted);
            System.out.printf("  %-40s min %7.2f  median %7.2f   last loss %s%n", jars[i], sorted[0] / 1e6,
                    sorted[steps / 2] / 1e6, Double.toHexString(lastLoss[i]));
        }
        for (int i = 1; i < builds; i++) {
            double[] ratio = new double[steps];
            for (int s = 0; s < steps; s++) {
                ratio[s] = (double) nanos[i][s] / nanos[0][s];
            }
            Arrays.sort(ratio);
            System.out.printf("  step time %s / %s: median %.4f (quartiles %.4f to %.4f)%n", jars[i], jars[0],
                    ratio[steps / 2], ratio[steps / 4], ratio[3 * steps / 4]);
        }
    }
}
