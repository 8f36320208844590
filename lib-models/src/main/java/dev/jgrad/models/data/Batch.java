package dev.jgrad.models.data;

/**
 * A batch of training windows: {@code inputs} and {@code targets} are row-major {@code [rows, context]} ids, and
 * each target is the input one position later in the text ({@code targets[r][t] == text[start_r + t + 1]}).
 * The id arrays go straight into {@code Index.embedding(weight, inputs, rows, context)}.
 */
public record Batch(int[] inputs, int[] targets, int rows, int context) {
    public Batch {
        if (inputs.length != rows * context || targets.length != rows * context) {
            throw new IllegalArgumentException("Batch: " + inputs.length + " inputs and " + targets.length
                    + " targets for shape [" + rows + ", " + context + "]");
        }
    }

    public int[] shape() {
        return new int[] {rows, context};
    }

    public int input(int row, int position) {
        return inputs[row * context + position];
    }

    public int target(int row, int position) {
        return targets[row * context + position];
    }
}
