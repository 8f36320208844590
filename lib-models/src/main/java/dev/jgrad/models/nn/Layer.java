package dev.jgrad.models.nn;

import dev.jgrad.autograd.Variable;

/** A module that maps one variable to one variable: the layers a transformer block is stacked from. */
public interface Layer {
    Variable forward(Variable x);
}
