package dev.jgrad.tensor;

/** Thrown when an op is given shapes, axes or indices it cannot work with; the message names the op and shapes. */
public class ShapeException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    public ShapeException(String message) {
        super(message);
    }
}
