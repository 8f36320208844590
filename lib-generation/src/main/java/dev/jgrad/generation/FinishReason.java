package dev.jgrad.generation;

/** Why a generation ended. */
public enum FinishReason {
    /** A stop token was chosen (it is not part of the output). */
    STOP_TOKEN,
    /** The text came to contain a stop string (the output text ends before it). */
    STOP_STRING,
    /** The maximum number of new tokens was generated. */
    MAX_TOKENS,
    /** The sequence filled the model's context: no further token can be read. */
    CONTEXT_FULL
}
