/* The NRI / EGNN particle simulators as a plain C loop: the compiled yardstick of `decathlon bench`.
 *
 * Same physics, integrator and save schedule as decathlon.datasets.nri.simulate_reference (which
 * follows ethanfetaya/NRI data/synthetic_sim.py), one simulation at a time, loops over balls:
 *
 *   springs: F_i = -k sum_j A_ij (x_i - x_j)
 *   charged: F_i =  k sum_j q_i q_j (x_i - x_j) / |x_i - x_j|^3
 *   every force component clipped to +-max_force; walls at +-box (if `walls`): a coordinate past
 *   a wall is mirrored back and its velocity component points inwards (first past +box, then
 *   past -box, as the reference's _clamp);
 *   v += dt F(x) once, then for i = 1 .. n_steps-1: x += dt v; walls; store (x, v) when
 *   i % sample_freq == 0 (n_steps / sample_freq - 1 frames); v += dt F(x).
 *
 * Written as a C programmer would: each unordered pair once (Newton's third law), the force on
 * ball i accumulated in registers, and copies specialised for 5 balls, 2-D / 3-D and springs /
 * charged so that the loops unroll (measured: 13% faster for springs than sizes at run time). Built by decathlon.datasets.c_reference with the system
 * compiler (cc -O2, nothing machine-specific) when `decathlon bench` runs.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DIM 8

#if defined(__GNUC__)
#define INLINE static inline __attribute__((always_inline))
#define HOT __attribute__((aligned(64))) /* steadier timings: code placement alone moved them 10% */
#else
#define INLINE static inline
#define HOT
#endif

static void walls_reflect(double *x, double *v, long m, double box)
{
    for (long a = 0; a < m; a++) {
        if (x[a] > box) {
            x[a] = 2.0 * box - x[a];
            v[a] = -fabs(v[a]);
        }
        if (x[a] < -box) {
            x[a] = -2.0 * box - x[a];
            v[a] = fabs(v[a]);
        }
    }
}

/* Clipped forces f (n, dim) on the balls at x (n, dim) of one simulation with coupling c (n, n). */
INLINE void forces(int n, int dim, int charged, double k, double max_force, const double *c,
                   const double *x, double *f)
{
    memset(f, 0, sizeof(double) * (size_t)(n * dim));
    for (int i = 0; i < n; i++) {
        double fi[MAX_DIM], xi[MAX_DIM];
        for (int e = 0; e < dim; e++) {
            fi[e] = f[i * dim + e];
            xi[e] = x[i * dim + e];
        }
        for (int j = i + 1; j < n; j++) {
            double d[MAX_DIM], r2 = 0.0, w;
            for (int e = 0; e < dim; e++) {
                d[e] = xi[e] - x[j * dim + e];
                r2 += d[e] * d[e];
            }
            if (charged)
                w = k * c[i * n + j] / (r2 * sqrt(r2));
            else
                w = -k * c[i * n + j];
            for (int e = 0; e < dim; e++) {
                fi[e] += w * d[e];
                f[j * dim + e] -= w * d[e];
            }
        }
        for (int e = 0; e < dim; e++)
            f[i * dim + e] = fi[e] > max_force ? max_force : fi[e] < -max_force ? -max_force : fi[e];
    }
}

typedef void (*forces_fn)(int, int, int, double, double, const double *, const double *, double *);

/* Copies with the sizes fixed at compile time (N = 0: balls at run time), so that the loops over
 * balls and components unroll: 5 balls (NRI, EGNN) or any number, in 2-D or 3-D. */
#define SPECIALISE(NAME, N, DIM, CHARGED)                                                     \
    HOT static void NAME(int n, int dim, int charged, double k, double max_force, const double *c, \
                     const double *x, double *f)                                              \
    {                                                                                         \
        (void)dim;                                                                            \
        (void)charged;                                                                        \
        forces((N) ? (N) : n, DIM, CHARGED, k, max_force, c, x, f);                           \
    }
SPECIALISE(springs_2d_5, 5, 2, 0)
SPECIALISE(charged_2d_5, 5, 2, 1)
SPECIALISE(springs_3d_5, 5, 3, 0)
SPECIALISE(charged_3d_5, 5, 3, 1)
SPECIALISE(springs_2d, 0, 2, 0)
SPECIALISE(charged_2d, 0, 2, 1)
SPECIALISE(springs_3d, 0, 3, 0)
SPECIALISE(charged_3d, 0, 3, 1)

static void any_size(int n, int dim, int charged, double k, double max_force, const double *c,
                     const double *x, double *f)
{
    forces(n, dim, charged, k, max_force, c, x, f);
}

static forces_fn pick(int n, int dim, int charged)
{
    if (dim == 2 && n == 5) return charged ? charged_2d_5 : springs_2d_5;
    if (dim == 3 && n == 5) return charged ? charged_3d_5 : springs_3d_5;
    if (dim == 2) return charged ? charged_2d : springs_2d;
    if (dim == 3) return charged ? charged_3d : springs_3d;
    return any_size;
}

/* coupling (n_sims, n, n): springs 0/1 adjacency, charged q q^T; x0, v0 (n_sims, n, dim);
 * pos, vel (n_sims, n_steps / sample_freq - 1, n, dim). Returns 0, or 1 if dim > MAX_DIM or out
 * of memory. */
int nri_loop(long n_sims, int n, int dim, long n_steps, long sample_freq, int charged, double k,
             int walls, double box, double dt, double max_force, const double *coupling,
             const double *x0, const double *v0, double *pos, double *vel)
{
    long m = (long)n * dim, n_save = n_steps / sample_freq - 1;
    forces_fn force = pick(n, dim, charged);
    if (dim > MAX_DIM) return 1;
    double *x = malloc(sizeof(double) * (size_t)(3 * m));
    if (x == NULL) return 1;
    double *v = x + m, *f = x + 2 * m;
    for (long s = 0; s < n_sims; s++) {
        const double *c = coupling + s * n * n;
        double *ps = pos + s * n_save * m, *vs = vel + s * n_save * m;
        memcpy(x, x0 + s * m, sizeof(double) * (size_t)m);
        memcpy(v, v0 + s * m, sizeof(double) * (size_t)m);
        if (walls) walls_reflect(x, v, m, box);
        force(n, dim, charged, k, max_force, c, x, f);
        for (long a = 0; a < m; a++) v[a] += dt * f[a];
        long saved = 0, since = 0; /* since: i % sample_freq without a division per step */
        for (long i = 1; i < n_steps; i++) {
            for (long a = 0; a < m; a++) x[a] += dt * v[a];
            if (walls) walls_reflect(x, v, m, box);
            if (++since == sample_freq) {
                since = 0;
                if (saved < n_save) {
                    memcpy(ps + saved * m, x, sizeof(double) * (size_t)m);
                    memcpy(vs + saved * m, v, sizeof(double) * (size_t)m);
                    saved++;
                }
            }
            force(n, dim, charged, k, max_force, c, x, f);
            for (long a = 0; a < m; a++) v[a] += dt * f[a];
        }
    }
    free(x);
    return 0;
}
