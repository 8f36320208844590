package dev.jgrad.viz;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;

/** Small reflection helpers for talking to a Jupyter kernel that viz must not depend on at compile time. */
final class Reflect {
    private Reflect() {}

    /** Loads a class without failing: null when {@code loader} cannot see it. */
    static Class<?> find(String name, ClassLoader loader) {
        if (loader == null) return null;
        try {
            return Class.forName(name, true, loader);
        } catch (ClassNotFoundException | LinkageError e) {
            return null;
        }
    }

    /** First public method named {@code name} whose parameters accept {@code argTypes}, or null. */
    static Method method(Class<?> owner, String name, Class<?>... argTypes) {
        for (Method m : owner.getMethods()) {
            if (!m.getName().equals(name) || m.getParameterCount() != argTypes.length) continue;
            Class<?>[] params = m.getParameterTypes();
            boolean fits = true;
            for (int i = 0; i < params.length && fits; i++) fits = params[i].isAssignableFrom(argTypes[i]);
            if (fits) return m;
        }
        return null;
    }

    static Object invoke(Method method, Object target, Object... args) {
        try {
            return method.invoke(target, args);
        } catch (InvocationTargetException e) {
            Throwable cause = e.getCause();
            if (cause instanceof RuntimeException re) throw re;
            if (cause instanceof Error err) throw err;
            throw new IllegalStateException("kernel call " + method.getName() + " failed", cause);
        } catch (IllegalAccessException e) {
            throw new IllegalStateException("kernel method not accessible: " + method, e);
        }
    }
}
