/*
 * plot.c: SVG line and bar charts. See plot.h.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "out.h"
#include "plot.h"

enum { W = 640, H = 440, L = 70, R = 170, T = 40, B = 55 };
static const char *const COLOURS[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"};

// text with XML's special characters escaped
static void put_text(FILE *f, const char *s) {
    for (; s && *s; s++) {
        if (*s == '<') fputs("&lt;", f);
        else if (*s == '>') fputs("&gt;", f);
        else if (*s == '&') fputs("&amp;", f);
        else fputc(*s, f);
    }
}

static double map_x(const PlotAxes *ax, double x) {
    double a = ax->logx ? log10(ax->xmin) : ax->xmin, b = ax->logx ? log10(ax->xmax) : ax->xmax;
    double v = ax->logx ? log10(x) : x;
    return L + (v - a) / (b - a) * (W - L - R);
}
static double map_y(const PlotAxes *ax, double y) { return H - B - (y - ax->ymin) / (ax->ymax - ax->ymin) * (H - T - B); }

static void frame(FILE *f, const PlotAxes *ax, int xticks) {
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
               "font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
            W, H, W, H);
    fprintf(f, "<text x=\"%d\" y=\"24\" font-size=\"15\" text-anchor=\"middle\">", (W - R + L) / 2);
    put_text(f, ax->title);
    fprintf(f, "</text>\n<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">", (W - R + L) / 2, H - 12);
    put_text(f, ax->xlabel);
    fprintf(f, "</text>\n<text x=\"14\" y=\"%d\" text-anchor=\"middle\" transform=\"rotate(-90 14 %d)\">", (H - B + T) / 2, (H - B + T) / 2);
    put_text(f, ax->ylabel);
    fprintf(f, "</text>\n<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"black\"/>\n", L, T, W - L - R, H - T - B);
    for (int k = 0; k <= 5; k++) {  // y grid
        double v = ax->ymin + (ax->ymax - ax->ymin) * k / 5, y = map_y(ax, v);
        fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ddd\"/>"
                   "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.2g</text>\n",
                L, y, W - R, y, L - 6, y + 4, v);
    }
    if (!xticks) return;
    if (ax->logx) {
        for (double d = ceil(log10(ax->xmin)); d <= log10(ax->xmax) + 1e-9; d += 1) {
            double x = map_x(ax, pow(10, d));
            fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#ddd\"/>"
                       "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">1e%d</text>\n",
                    x, T, x, H - B, x, H - B + 18, (int)d);
        }
    } else {
        for (int k = 0; k <= 5; k++) {
            double v = ax->xmin + (ax->xmax - ax->xmin) * k / 5, x = map_x(ax, v);
            fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#ddd\"/>"
                       "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%.3g</text>\n",
                    x, T, x, H - B, x, H - B + 18, v);
        }
    }
}

void plot_lines(const char *path, const PlotAxes *ax, const PlotSeries *s, int ns) {
    Out o;
    out_open(&o, path, 0, 1);
    FILE *f = o.fp;
    frame(f, ax, 1);
    for (int k = 0; k < ns; k++) {
        const char *c = COLOURS[k % 8];
        int open = 0;
        for (size_t i = 0; i < s[k].n; i++) {
            double x = s[k].x[i], y = s[k].y[i];
            if (!isfinite(y) || !isfinite(x) || (ax->logx && x <= 0)) {
                if (open) fputs("\"/>\n", f), open = 0;
                continue;
            }
            if (x < ax->xmin) x = ax->xmin;
            if (x > ax->xmax) x = ax->xmax;
            if (y < ax->ymin) y = ax->ymin;
            if (y > ax->ymax) y = ax->ymax;
            if (!open) fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.8\" points=\"", c), open = 1;
            fprintf(f, "%.1f,%.1f ", map_x(ax, x), map_y(ax, y));
        }
        if (open) fputs("\"/>\n", f);
        fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"3\"/><text x=\"%d\" y=\"%d\">",
                W - R + 10, T + 12 + 18 * k, W - R + 30, T + 12 + 18 * k, c, W - R + 36, T + 16 + 18 * k);
        put_text(f, s[k].name);
        fputs("</text>\n", f);
    }
    fputs("</svg>\n", f);
    out_commit(&o);
}

void plot_bars(const char *path, const PlotAxes *ax, const char *const *labels, const double *v, int n) {
    Out o;
    out_open(&o, path, 0, 1);
    FILE *f = o.fp;
    frame(f, ax, 0);
    double slot = (double)(W - L - R) / (n > 0 ? n : 1);
    for (int i = 0; i < n; i++) {
        double x = L + slot * i + slot * 0.15, y0 = map_y(ax, ax->ymin), val = isfinite(v[i]) ? v[i] : ax->ymin;
        double y = map_y(ax, val < ax->ymin ? ax->ymin : val > ax->ymax ? ax->ymax : val);
        fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"/>\n", x, y, slot * 0.7, y0 - y, COLOURS[0]);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.3g</text>\n", x + slot * 0.35, y - 4, v[i]);
        fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">", x + slot * 0.35, H - B + 18);
        put_text(f, labels[i]);
        fputs("</text>\n", f);
    }
    fputs("</svg>\n", f);
    out_commit(&o);
}
