package dev.jgrad.models.gpt;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jgrad.autograd.Tape;
import dev.jgrad.autograd.Variable;
import dev.jgrad.models.optim.AdamW;
import dev.jgrad.models.optim.Optimizer;
import dev.jgrad.tensor.DType;
import dev.jgrad.tensor.Parallel;
import dev.jgrad.tensor.Rng;
import dev.jgrad.tensor.Tensor;
import dev.jgrad.tensor.Workspace;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Training a GPT inside Workspace scopes, plain or recycling, changes no bit of the result, and reuses storage
 * from step to step.
 */
class GptWorkspaceTest {
    private static final int BATCH = 2;
    private static final int TIME = 8;

    private enum Mode { NONE, PLAIN, RECYCLING }

    /** The gradients (copied) and the loss of each of {@code steps} AdamW steps, each step in a scope or not. */
    private static List<double[]> train(GptConfig config, DType dtype, Mode mode, int steps) {
        Rng rng = new Rng(7);
        Gpt model = new Gpt(config, dtype, rng);
        Map<String, Variable> params = model.namedParameters();
        var optimizer = new AdamW(params, AdamW.settings(1e-2).weightDecay(0.1).decayFilter(Optimizer.DECAY_ALL));
        int[] ids = new int[BATCH * TIME];
        int[] targets = new int[BATCH * TIME];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = (int) Math.floorMod(rng.nextLong(), config.vocabSize());
            targets[i] = (int) Math.floorMod(rng.nextLong(), config.vocabSize());
        }
        List<double[]> trace = new ArrayList<>();
        for (int s = 0; s < steps; s++) {
            Workspace scope = switch (mode) {
                case NONE -> null;
                case PLAIN -> Workspace.open();
                case RECYCLING -> Workspace.openRecycling();
            };
            try {
                Variable loss = model.loss(ids, targets, BATCH, TIME);
                loss.backward();
                trace.add(new double[] {loss.item()});
                for (Variable p : params.values()) {
                    trace.add(p.grad().toDoubleArray());
                }
                optimizer.step();
                optimizer.zeroGrad();
            } finally {
                if (scope != null) {
                    scope.close();
                }
            }
        }
        for (Variable p : params.values()) {
            trace.add(p.value().toDoubleArray());
        }
        return trace;
    }

    private static void assertBitIdentical(String what, List<double[]> expected, List<double[]> actual) {
        assertEquals(expected.size(), actual.size());
        for (int i = 0; i < expected.size(); i++) {
            double[] e = expected.get(i);
            double[] a = actual.get(i);
            assertEquals(e.length, a.length);
            for (int j = 0; j < e.length; j++) {
                assertEquals(Double.doubleToRawLongBits(e[j]), Double.doubleToRawLongBits(a[j]),
                        what + ": entry " + i + " element " + j);
            }
        }
    }

    @Test
    void gradientsAndWeightsAreBitIdenticalWithAndWithoutWorkspace() {
        for (DType dtype : List.of(DType.F32, DType.F64)) {
            for (GptConfig config : List.of(GptTest.TINY_GPT2, GptTest.TINY_LLAMA)) {
                assertBitIdentical(dtype + " " + config, train(config, dtype, Mode.NONE, 3),
                        train(config, dtype, Mode.PLAIN, 3));
            }
        }
    }

    /**
     * A recycling scope, where each step's tensors and tape entries are the objects of the step before, gives the
     * bits of a plain scope and of none, at one thread and at two (the kernels then split their work).
     */
    @Test
    void recyclingStepsAreBitIdenticalToPlainOnesAtOneAndTwoThreads() {
        int saved = Parallel.threads();
        try {
            for (int threads : new int[] {1, 2}) {
                Parallel.setThreads(threads);
                for (GptConfig config : List.of(GptTest.TINY_GPT2, GptTest.TINY_LLAMA)) {
                    List<double[]> none = train(config, DType.F32, Mode.NONE, 4);
                    String what = threads + " threads, " + config;
                    assertBitIdentical(what + ", plain", none, train(config, DType.F32, Mode.PLAIN, 4));
                    assertBitIdentical(what + ", recycling", none, train(config, DType.F32, Mode.RECYCLING, 4));
                }
            }
        } finally {
            Parallel.setThreads(saved);
        }
    }

    /**
     * Recycling steps that differ from the one before (an evaluation forward under noGrad, another batch shape, a
     * model of another layout) still compute what a plain scope computes.
     */
    @Test
    void recyclingStepsOfDifferentShapesAndModesGiveThePlainResults() {
        assertBitIdentical("recycling", differingSteps(Mode.PLAIN), differingSteps(Mode.RECYCLING));
    }

    private static List<double[]> differingSteps(Mode mode) {
        Gpt gpt2 = new Gpt(GptTest.TINY_GPT2, new Rng(3));
        Gpt llama = new Gpt(GptTest.TINY_LLAMA, new Rng(3));
        int[] ids = new int[BATCH * TIME];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = i % 11;
        }
        List<double[]> trace = new ArrayList<>();
        for (int round = 0; round < 2; round++) {
            trace.add(step(mode, gpt2, ids, BATCH, TIME, true));
            trace.add(step(mode, gpt2, ids, BATCH, TIME, false));
            trace.add(step(mode, gpt2, Arrays.copyOf(ids, 5), 1, 5, true));
            trace.add(step(mode, llama, ids, BATCH, TIME, true));
            trace.add(step(mode, gpt2, ids, BATCH, TIME, true));
        }
        return trace;
    }

    /** One step's loss and input-embedding gradient: a training step, or an evaluation forward under noGrad. */
    private static double[] step(Mode mode, Gpt model, int[] ids, int batch, int time, boolean train) {
        Variable embedding = model.namedParameters().values().iterator().next();
        embedding.zeroGrad();
        try (var scope = mode == Mode.PLAIN ? Workspace.open() : Workspace.openRecycling()) {
            if (!train) {
                return new double[] {Tape.noGrad(() -> model.loss(ids, ids, batch, time).item())};
            }
            Variable loss = model.loss(ids, ids, batch, time);
            loss.backward();
            double[] out = Arrays.copyOf(embedding.grad().toDoubleArray(), embedding.grad().numel() + 1);
            out[out.length - 1] = loss.item();
            return out;
        }
    }

    @Test
    void fromTheSecondStepOnEveryTensorReusesStorage() {
        Gpt model = new Gpt(GptTest.TINY_GPT2, new Rng(3));
        var optimizer = new AdamW(model.namedParameters(), AdamW.settings(1e-3));
        int[] ids = new int[BATCH * TIME];
        Workspace ws = Workspace.current();
        long missesAfterFirst = 0;
        for (int s = 0; s < 3; s++) {
            try (var scope = Workspace.open()) {
                model.loss(ids, ids, BATCH, TIME).backward();
                optimizer.step();
                optimizer.zeroGrad();
            }
            if (s == 0) {
                missesAfterFirst = ws.misses();
            }
        }
        assertEquals(missesAfterFirst, ws.misses(), "steps 2 and 3 allocated no tensor storage");
        assertTrue(ws.hits() > 0);
    }

    @Test
    void keepingTheLossTensorPastTheStepIsCaught() {
        Gpt model = new Gpt(GptTest.TINY_GPT2, new Rng(3));
        int[] ids = new int[BATCH * TIME];
        Variable loss;
        try (var scope = Workspace.open()) {
            loss = model.loss(ids, ids, BATCH, TIME);
        }
        Tensor stale = loss.value();
        var e = assertThrows(IllegalStateException.class, stale::item);
        assertTrue(e.getMessage().contains("Workspace"), e.getMessage());
    }
}
