package dev.jgrad.tensor.kernel;

/**
 * Per-thread scratch arrays for kernels that need working space inside a parallel task (a transposed head, a
 * packed panel), reused from call to call so a training step does not allocate them again and again. Each use
 * has its own slot, so two arrays a kernel needs at the same time never alias. An array may be longer than asked
 * for and holds whatever its last user left in it: callers initialise what they read.
 */
public final class Scratch {
    /** Slots: one per array that may be live at the same time on one thread. */
    public static final int ATTENTION_KEYS = 0;
    public static final int ATTENTION_VALUES = 1;
    public static final int REDUCTION_SUM = 2;
    public static final int REDUCTION_LOST = 3;
    private static final int SLOTS = 4;

    private static final ThreadLocal<float[][]> F32 = ThreadLocal.withInitial(() -> new float[SLOTS][]);

    private Scratch() {}

    /** This thread's array for {@code slot}, at least {@code length} long. */
    public static float[] f32(int slot, int length) {
        float[][] slots = F32.get();
        float[] a = slots[slot];
        if (a == null || a.length < length) {
            a = new float[length];
            slots[slot] = a;
        }
        return a;
    }
}
