package dev.jgrad.bench;

import dev.jgrad.tensor.Parallel;
import java.lang.management.ManagementFactory;

/**
 * Bytes allocated per steady-state training step ({@link GptTrainStep}), summed over every thread of the JVM
 * (the caller and jgrad's fork-join workers), with the step time beside it. JMH's {@code -prof gc} counts
 * only the benchmark thread, which misses what the workers allocate at 2 threads.
 *
 * <pre>
 * java --add-modules jdk.incubator.vector -Xms1g -Xmn512m -XX:+UseParallelGC \
 *     -cp bench/target/benchmarks.jar dev.jgrad.bench.TrainAllocation small,large 1,2 [warmup] [steps]
 * </pre>
 */
public final class TrainAllocation {
    private TrainAllocation() {}

    public static void main(String[] args) {
        String[] presets = (args.length > 0 ? args[0] : "small,large").split(",");
        String[] threadCounts = (args.length > 1 ? args[1] : "1,2").split(",");
        int warmup = args.length > 2 ? Integer.parseInt(args[2]) : 10;
        int steps = args.length > 3 ? Integer.parseInt(args[3]) : 10;
        var threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        System.out.println("| config | threads | ms/step | CPU ms/step | tokens/s | bytes allocated/step |");
        System.out.println("|---|---:|---:|---:|---:|---:|");
        for (String name : presets) {
            var preset = GptTrainStep.Preset.valueOf(name.toUpperCase(java.util.Locale.ROOT));
            for (String t : threadCounts) {
                Parallel.setThreads(Integer.parseInt(t));
                var step = new GptTrainStep(preset, 42);
                for (int i = 0; i < warmup; i++) {
                    step.step();
                }
                long bytesBefore = allocatedByAllThreads(threads);
                long cpuBefore = cpuOfAllThreads(threads);
                long start = System.nanoTime();
                for (int i = 0; i < steps; i++) {
                    step.step();
                }
                long nanos = System.nanoTime() - start;
                long bytes = allocatedByAllThreads(threads) - bytesBefore;
                double cpuMsPerStep = (cpuOfAllThreads(threads) - cpuBefore) / 1e6 / steps;
                double msPerStep = nanos / 1e6 / steps;
                System.out.printf("| %s | %s | %.1f | %.1f | %.0f | %,d |%n", name, t, msPerStep, cpuMsPerStep,
                        preset.tokensPerStep() / (msPerStep / 1e3), bytes / steps);
            }
        }
    }

    /**
     * CPU time so far of all live threads, GC threads excluded (they are not Java threads): less disturbed than
     * wall time by other jobs on the machine, so it shows a change's effect more reliably.
     */
    private static long cpuOfAllThreads(com.sun.management.ThreadMXBean threads) {
        long sum = 0;
        for (long id : threads.getAllThreadIds()) {
            sum += Math.max(threads.getThreadCpuTime(id), 0);
        }
        return sum;
    }

    /** Total bytes allocated so far by all live threads (threads that ended are lost, so keep them alive). */
    private static long allocatedByAllThreads(com.sun.management.ThreadMXBean threads) {
        long sum = 0;
        for (long b : threads.getThreadAllocatedBytes(threads.getAllThreadIds())) {
            sum += Math.max(b, 0);
        }
        return sum;
    }
}
