package dev.jgrad.models.train;

import dev.jgrad.autograd.Variable;
import dev.jgrad.models.data.Batch;
import dev.jgrad.models.nn.Dropout;
import dev.jgrad.models.nn.Module;
import dev.jgrad.tensor.DType;
import dev.jgrad.tensor.Parallel;
import dev.jgrad.tensor.Rng;
import dev.jgrad.tensor.Tensor;
import dev.jgrad.tensor.Workspace;
import dev.jgrad.tensor.kernel.ElementwiseF32;
import java.lang.reflect.Field;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.IntConsumer;

/**
 * Forward and backward of one optimizer step, spread over worker threads, with a result that does not depend on
 * the number of workers, bit for bit.
 *
 * <p>The step's batch is cut into a fixed list of shards (the trainer's {@code accumulation x shards}); each shard's
 * gradient is computed on its own, with fresh parameter variables over the model's value tensors
 * ({@link Module#withParameters}), so no two threads ever accumulate into the same {@code .grad}. The shard
 * gradients are then summed in shard order. Which worker ran a shard changes nothing: a shard's arithmetic depends
 * only on its rows and the weights, because every kernel gives the same bits for any thread count. Dropout masks
 * come from a generator re-seeded per shard from (seed, step, shard), so they too follow the shard, not the worker.
 *
 * <p>Workers are tasks on jgrad's own pool ({@link Parallel#pool()}), so kernels they call run inline rather than
 * forking again onto a pool that is already busy; a single worker runs on the caller and lets its kernels use the
 * whole pool. More workers than pool threads is allowed (they queue) but gains nothing.
 */
final class DataParallel {
    private final TrainableModel[] replicas;
    private final List<List<Rng>> dropoutRngs = new ArrayList<>();
    private final List<String> names;
    /**
     * Per shard, the parameter variables its gradient is computed through, kept from step to step (rebuilt only
     * when a parameter's value tensor changes) so their gradient buffers are allocated once.
     */
    private final List<Map<String, Variable>> shardParams = new ArrayList<>();
    /** Per parameter, the buffer the shard gradients are summed into, allocated on first use. */
    private final Map<String, Tensor> sumBuffers = new LinkedHashMap<>();

    /** Worker 0 uses {@code model} itself; the others get replicas. */
    DataParallel(TrainableModel model, int workers) {
        if (workers < 1) {
            throw new IllegalArgumentException("DataParallel: workers must be >= 1, got " + workers);
        }
        replicas = new TrainableModel[workers];
        replicas[0] = model;
        for (int w = 1; w < workers; w++) {
            replicas[w] = model.replica();
            replicas[w].module().train(model.module().isTraining());
        }
        for (TrainableModel r : replicas) {
            dropoutRngs.add(dropoutRngs(r.module()));
        }
        names = List.copyOf(model.module().distinctNamedParameters().keySet());
    }

    int workers() {
        return replicas.length;
    }

    /** The outcome of one step's forward/backward: per-shard losses and the summed gradients by parameter name. */
    record Gradients(double[] shardLosses, Map<String, Tensor> sums) {
        /** The step's loss: the mean of the shard losses, summed in shard order. */
        double loss() {
            double total = 0;
            for (double l : shardLosses) {
                total += l;
            }
            return total / shardLosses.length;
        }
    }

    /**
     * Runs every shard and returns the gradient of the mean shard loss. {@code values} are the trained
     * parameters' tensors by name; {@code dropoutSeed} derives each shard's dropout stream.
     *
     * <p>Each worker runs each shard inside a recycling scope of its own thread's {@link Workspace}
     * ({@link Workspace#openRecycling()}), so a steady-state shard reuses the storage, tensor objects and tape
     * entries of the shard that thread ran before; nothing of a shard is kept past its scope (the loss is read
     * inside it, the gradients sit in the parameters' own buffers). The returned gradients live in buffers this
     * object owns and reuses: they are valid until the next call.
     */
    Gradients run(List<Batch> shards, Map<String, Tensor> values, long dropoutSeed) {
        int n = shards.size();
        double[] losses = new double[n];
        Tensor[][] grads = new Tensor[n][];   // per shard, the gradients in the order of names
        for (int s = 0; s < n; s++) {
            Map<String, Variable> params = shardParams(s, values);
            params.values().forEach(Variable::recycleGrad);
        }
        AtomicInteger next = new AtomicInteger();
        IntConsumer worker = w -> {
            TrainableModel replica = replicas[w];
            for (int s = next.getAndIncrement(); s < n; s = next.getAndIncrement()) {
                seedDropout(w, dropoutSeed, s);
                Map<String, Variable> params = shardParams.get(s);
                Batch shard = shards.get(s);
                try (var scope = Workspace.openRecycling()) {
                    losses[s] = replica.module().withParameters(params, () -> {
                        Variable loss = replica.loss(shard);
                        loss.div(n).backward();
                        return loss.item();
                    });
                }
                Tensor[] g = new Tensor[names.size()];
                for (int i = 0; i < g.length; i++) {
                    g[i] = params.get(names.get(i)).grad();
                }
                grads[s] = g;
            }
        };
        runWorkers(Math.min(replicas.length, n), worker);
        Map<String, Tensor> sums = new LinkedHashMap<>();
        for (int i = 0; i < names.size(); i++) {
            sums.put(names.get(i), sumInShardOrder(i, grads));
        }
        return new Gradients(losses, sums);
    }

    /** The variables shard {@code s} differentiates through, over the current value tensors. */
    private Map<String, Variable> shardParams(int s, Map<String, Tensor> values) {
        while (shardParams.size() <= s) {
            shardParams.add(new LinkedHashMap<>());
        }
        Map<String, Variable> params = shardParams.get(s);
        for (String name : names) {
            Variable p = params.get(name);
            if (p == null || p.value() != values.get(name)) {
                params.put(name, Variable.param(values.get(name)));
            }
        }
        return params;
    }

    /**
     * The shards' gradients of one parameter summed in shard order ((g0 + g1) + g2 ..., the same bits as adding
     * them with {@code Tensor.add}), into a buffer kept for the next step; a single gradient is returned as is.
     */
    private Tensor sumInShardOrder(int parameter, Tensor[][] grads) {
        String name = names.get(parameter);
        Tensor sum = null;
        boolean own = false;
        for (Tensor[] shard : grads) {
            Tensor g = shard[parameter];
            if (g == null) {
                continue;
            }
            if (sum == null) {
                sum = g;
                continue;
            }
            if (!own) {
                Tensor buffer = sumBuffers.get(name);
                if (buffer == null || buffer.dtype() != g.dtype()) {
                    try (var persistent = Workspace.persistent()) {
                        buffer = Tensor.empty(g.dtype(), g.shape());
                    }
                    sumBuffers.put(name, buffer);
                }
                buffer.copyFrom(sum);
                sum = buffer;
                own = true;
            }
            addInPlace(sum, g);
        }
        return sum;
    }

    /** sum += g, for two contiguous tensors of one shape and dtype (gradient buffers always are). */
    private static void addInPlace(Tensor sum, Tensor g) {
        int n = sum.numel();
        if (sum.dtype() == DType.F32) {
            ElementwiseF32.add(sum.f32Data(), sum.offset(), 1, g.f32Data(), g.offset(), 1, sum.f32Data(), sum.offset(), n);
        } else {
            double[] s = sum.f64Data();
            double[] d = g.f64Data();
            for (int i = 0, so = sum.offset(), go = g.offset(); i < n; i++) {
                s[so + i] += d[go + i];
            }
        }
    }

    /**
     * One worker runs on the caller, its kernels free to use the whole pool. Several run as tasks on jgrad's pool,
     * where kernels run inline; the caller waits on a latch rather than joining them, because a joining thread
     * that is not a pool worker may run a task itself, and its kernels would then fork into the pool from inside
     * another worker's work.
     */
    private static void runWorkers(int count, IntConsumer worker) {
        if (count == 1) {
            worker.accept(0);
            return;
        }
        CountDownLatch done = new CountDownLatch(count);
        AtomicReference<Throwable> failure = new AtomicReference<>();
        for (int w = 0; w < count; w++) {
            int id = w;
            Parallel.pool().execute(() -> {
                try {
                    worker.accept(id);
                } catch (Throwable t) {
                    failure.compareAndSet(null, t);
                } finally {
                    done.countDown();
                }
            });
        }
        try {
            done.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("DataParallel: interrupted while workers were running", e);
        }
        Throwable t = failure.get();
        if (t instanceof RuntimeException r) {
            throw r;
        }
        if (t instanceof Error e) {
            throw e;
        }
        if (t != null) {
            throw new IllegalStateException("DataParallel: a worker failed: " + t, t);
        }
    }

    private void seedDropout(int worker, long seed, int shard) {
        List<Rng> rngs = dropoutRngs.get(worker);
        for (int i = 0; i < rngs.size(); i++) {
            rngs.get(i).restore(shardRng(seed, shard, i).snapshot());
        }
    }

    /** An independent stream per (seed, shard, generator). */
    static Rng shardRng(long seed, int shard, int generator) {
        return new Rng(hash(hash(seed, shard), generator));
    }

    /** Mixes {@code value} into {@code seed}: the first SplitMix64 output of their combination. */
    static long hash(long seed, long value) {
        return new Rng(new Rng(seed).nextLong() ^ value).nextLong();
    }

    /**
     * The distinct generators of the model's active dropout layers, in module order. {@link Dropout} keeps its
     * generator private; until it offers an accessor, the field is read reflectively here, the one place that
     * needs to re-seed it per shard.
     */
    static List<Rng> dropoutRngs(Module module) {
        Set<Rng> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        List<Rng> out = new ArrayList<>();
        collect(module, seen, out);
        return out;
    }

    private static void collect(Module m, Set<Rng> seen, List<Rng> out) {
        if (m instanceof Dropout d && d.p() > 0) {
            try {
                Field f = Dropout.class.getDeclaredField("rng");
                f.setAccessible(true);
                Rng rng = (Rng) f.get(d);
                if (rng != null && seen.add(rng)) {
                    out.add(rng);
                }
            } catch (ReflectiveOperationException | RuntimeException e) {
                throw new IllegalStateException("DataParallel: cannot reach the generator of a Dropout layer to "
                        + "seed it per shard (" + e + ")", e);
            }
        }
        for (Module c : m.children().values()) {
            collect(c, seen, out);
        }
    }

    @Override
    public String toString() {
        return "DataParallel[" + replicas.length + " workers, parameters " + Arrays.toString(names.toArray()) + "]";
    }
}
