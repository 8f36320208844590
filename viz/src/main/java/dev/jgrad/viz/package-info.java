/**
 * Figures, metric tables and live training views for jgrad notebooks.
 *
 * <ul>
 *   <li>{@link dev.jgrad.viz.Plots}: line charts of training curves (EMA smoothing, log y), attention heatmaps
 *       (one panel per head), image grids and bar charts, each a {@link dev.jgrad.viz.Figure} that renders to
 *       PNG at any width and {@code show()}s itself.</li>
 *   <li>{@link dev.jgrad.viz.History}: per-step metrics in a Tablesaw table, printable and plottable.</li>
 *   <li>{@link dev.jgrad.viz.TrainingMonitor}: progress, latest metrics and a loss plot updated in place,
 *       throttled to a small fraction of training time.</li>
 *   <li>{@link dev.jgrad.viz.Display}: inline output under a Java Jupyter kernel (rapaio or IJava, found by
 *       reflection), PNG files and terminal text everywhere else.</li>
 * </ul>
 * Rendering is plain Java2D and XChart painting into images, safe with {@code -Djava.awt.headless=true}.
 */
package dev.jgrad.viz;
