package org.rapaio.jupyter.kernel;

import org.rapaio.jupyter.kernel.core.RapaioKernel;

/**
 * Test double with the shape of rapaio-jupyter-kernel 3.0.1's MainApp (public static final field {@code kernel}),
 * so the reflective display path of dev.jgrad.viz.RapaioKernelSink runs in unit tests without the real kernel.
 */
public class MainApp {
    public static final RapaioKernel kernel = new RapaioKernel();
}
