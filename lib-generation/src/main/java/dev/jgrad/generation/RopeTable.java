package dev.jgrad.generation;

/**
 * cos and sin of every RoPE angle a decoder can need: position p in [0, context) and pair i in [0, headDim / 2),
 * angle p · theta^(-2i / headDim), computed in double as the Rope op computes its table, [context, headDim / 2]
 * row-major.
 */
final class RopeTable {
    private RopeTable() {}

    /** {cos, sin}. */
    static double[][] of(int context, int headDim, double theta) {
        int half = headDim / 2;
        double[] cos = new double[context * half];
        double[] sin = new double[context * half];
        for (int i = 0; i < half; i++) {
            double frequency = Math.pow(theta, -2.0 * i / headDim);
            for (int p = 0; p < context; p++) {
                double angle = (double) p * frequency;
                cos[p * half + i] = Math.cos(angle);
                sin[p * half + i] = Math.sin(angle);
            }
        }
        return new double[][] {cos, sin};
    }
}
