package dev.jgrad.models.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jgrad.autograd.Variable;
import dev.jgrad.tensor.ShapeException;
import dev.jgrad.tensor.Tensor;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ModuleTest {
    static final class Affine extends Module {
        final Variable weight;
        final Variable bias;

        Affine(int in, int out) {
            weight = parameter("weight", Tensor.ones(out, in));
            bias = parameter("bias", Tensor.zeros(out));
        }
    }

    static final class Net extends Module {
        final Affine first = child("first", new Affine(2, 3));
        final Module blocks = child("blocks", new Module() {});

        Net() {
            for (int i = 0; i < 2; i++) {
                blocks.child(String.valueOf(i), new Affine(3, 3));
            }
        }
    }

    @Test
    void namesAreHierarchicalInRegistrationOrder() {
        var net = new Net();
        assertEquals(List.of("first.weight", "first.bias", "blocks.0.weight", "blocks.0.bias", "blocks.1.weight",
                "blocks.1.bias"), List.copyOf(net.namedParameters().keySet()));
        assertEquals(6 + 3 + 2 * (9 + 3), net.parameterCount());
    }

    @Test
    void trainAndEvalReachEveryDescendant() {
        var net = new Net();
        net.eval();
        assertFalse(net.blocks.children().get("1").isTraining());
        net.train(true);
        assertTrue(net.first.isTraining());
    }

    @Test
    void stateDictRoundTripsAndBadShapesChangeNothing() {
        var a = new Net();
        var b = new Net();
        a.first.weight.value().fill(7);
        b.loadStateDict(a.stateDict(), true);
        assertEquals(7.0, b.first.weight.value().get(1, 1));

        var wrong = new java.util.LinkedHashMap<>(a.stateDict());
        wrong.put("first.bias", Tensor.full(5.0, 3));
        wrong.put("blocks.1.weight", Tensor.zeros(4, 3));
        var e = assertThrows(ShapeException.class, () -> b.loadStateDict(wrong, true));
        assertTrue(e.getMessage().contains("blocks.1.weight") && e.getMessage().contains("[3, 3]")
                && e.getMessage().contains("[4, 3]"), e.getMessage());
        assertEquals(0.0, b.first.bias.value().get(0), "a failed load must not change any parameter");

        var missing = assertThrows(IllegalArgumentException.class, () -> b.loadStateDict(Map.of("x", Tensor.zeros(1)), true));
        assertTrue(missing.getMessage().contains("first.weight") && missing.getMessage().contains("[x]"), missing.getMessage());
    }

    @Test
    void withParametersSeesModulesRegisteredAfterItsFirstCallAndRestoresEverything() {
        var list = new ModuleList<Affine>();
        list.add(new Affine(2, 2));
        Variable zero = Variable.param(Tensor.zeros(2, 2));
        double first = list.withParameters(Map.of("0.weight", zero), () -> list.get(0).param("weight").value().sum().item());
        assertEquals(0.0, first);
        assertSame(list.get(0).weight, list.get(0).param("weight"), "restored after the call");

        list.add(new Affine(2, 2));   // a registration after the name table was built
        assertEquals(List.of("0.weight", "0.bias", "1.weight", "1.bias"), List.copyOf(list.namedParameters().keySet()));
        Variable ones = Variable.param(Tensor.full(3.0, 2, 2));
        double second = list.withParameters(Map.of("1.weight", ones, "0.weight", zero),
                () -> list.get(1).param("weight").value().sum().item() + list.get(0).param("weight").value().sum().item());
        assertEquals(12.0, second);
        assertSame(list.get(1).weight, list.get(1).param("weight"));
        assertSame(list.get(0).weight, list.get(0).param("weight"));

        var failure = assertThrows(IllegalStateException.class, () -> list.withParameters(Map.of("1.bias",
                Variable.param(Tensor.zeros(2))), () -> {
                    throw new IllegalStateException("body failed");
                }));
        assertEquals("body failed", failure.getMessage());
        assertSame(list.get(1).bias, list.get(1).param("bias"), "restored after a failing body too");
        var unknown = assertThrows(IllegalArgumentException.class,
                () -> list.withParameters(Map.of("2.weight", zero), () -> 0));
        assertTrue(unknown.getMessage().contains("'2.weight'"), unknown.getMessage());
    }

    @Test
    void duplicateOrDottedNamesAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> new Module() {
            {
                parameter("w", Tensor.zeros(1));
                parameter("w", Tensor.zeros(1));
            }
        });
        assertThrows(IllegalArgumentException.class, () -> new Module() {
            {
                parameter("a.b", Tensor.zeros(1));
            }
        });
    }
}
