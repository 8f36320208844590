package dev.jgrad.models.cli;

/** A bad command line: unknown option, missing or malformed value, missing files. The CLI exits with 2. */
public final class UsageException extends RuntimeException {
    public UsageException(String message) {
        super(message);
    }
}
