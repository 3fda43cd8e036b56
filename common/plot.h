/*
 * plot.h: small self-contained SVG figures (fr-eval --plot DIR): line charts with a
 * linear or log10 x axis, and bar charts. Files open in any browser; each is written
 * whole or not at all (out.h).
 */
#ifndef FR_PLOT_H
#define FR_PLOT_H

#include <stddef.h>

typedef struct PlotSeries {
    const char *name;
    const double *x, *y;
    size_t n;
} PlotSeries;

typedef struct PlotAxes {
    const char *title, *xlabel, *ylabel;
    int logx;                 // log10 x axis (points with x <= 0 are left out)
    double xmin, xmax, ymin, ymax;
} PlotAxes;

// Lines (one per series, with a legend); a point whose y is NaN breaks the line.
void plot_lines(const char *path, const PlotAxes *ax, const PlotSeries *s, int ns);
// Bars: one per label, value in [ymin, ymax] of the axes (x limits unused).
void plot_bars(const char *path, const PlotAxes *ax, const char *const *labels, const double *v, int n);

#endif
