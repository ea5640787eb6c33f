/* The compiled yardstick of `decathlon bench` for the swarm simulators: the physics of
 * decathlon.datasets.swarms_reference (one simulation at a time, loops over particles and
 * their pairs), as a plain C loop. Not used to build any dataset.
 *
 * vicsek_loop: sisyphe's Vicsek update (Euler positions in a periodic box, then the projected
 *   Euler-Maruyama step of the headings towards the neighbours' mean heading), with the
 *   standard normal draws of every step given (steps, n_sims, n, 3), as the Python loops
 *   draw them.
 * dorsogna_loop: sisyphe's AttractionRepulsion (self-propulsion, friction, Morse forces with
 *   C_a = l_a = 1 and mass radius^3), classical RK4, in float (expf, sqrtf) as sisyphe and
 *   the vectorized simulator (data version 3); params, states and outputs are float arrays.
 *
 * Both keep the state after steps 0, save_every, 2 save_every, ... (0-based), as the Python
 * simulators do. params is (n_sims, 4): radius, speed, noise, nu (Vicsek) or radius,
 * propulsion, C_r, l_r (D'Orsogna). Returns 0, or 1 when out of memory. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

static double py_mod(double x, double m) {
    /* numpy's float mod: the result takes the sign of the divisor */
    double r = fmod(x, m);
    if (r != 0.0 && ((r < 0.0) != (m < 0.0))) r += m;
    return r;
}

static double norm3(const double *v) { return sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]); }

static void vicsek_step(int n, double *pos, double *vel, double *nxt, const double *p,
                        const double *noise, double box, double dt) {
    double radius = p[0], speed = p[1], sigma = p[2], nu = p[3];
    double r2max = radius * radius, amp = sqrt(2.0 * sigma * dt);
    for (int i = 0; i < 3 * n; i++) pos[i] = py_mod(pos[i] + speed * dt * vel[i], box);
    for (int i = 0; i < n; i++) {
        double j[3] = {0.0, 0.0, 0.0};
        for (int k = 0; k < n; k++) {
            double d2 = 0.0;
            for (int c = 0; c < 3; c++) {
                double d = pos[3 * i + c] - pos[3 * k + c];
                d -= box * nearbyint(d / box);
                d2 += d * d;
            }
            if (d2 <= r2max)
                for (int c = 0; c < 3; c++) j[c] += vel[3 * k + c];
        }
        double nj = norm3(j), drive[3], dot = 0.0, v[3];
        const double *vi = vel + 3 * i;
        for (int c = 0; c < 3; c++) drive[c] = nu * j[c] / nj * dt + amp * noise[3 * i + c];
        for (int c = 0; c < 3; c++) dot += vi[c] * drive[c];
        for (int c = 0; c < 3; c++) v[c] = vi[c] + (drive[c] - dot * vi[c]) - sigma * 2.0 * vi[c] * dt;
        double nv = norm3(v);
        for (int c = 0; c < 3; c++) nxt[3 * i + c] = v[c] / nv;
    }
}

int vicsek_loop(long n_sims, int n, long steps, int save_every, double box, double dt,
                const double *params, const double *pos0, const double *vel0,
                const double *noise, double *out_pos, double *out_vel) {
    size_t m = (size_t)3 * n;
    double *pos = malloc(m * sizeof(double)), *vel = malloc(m * sizeof(double));
    double *nxt = malloc(m * sizeof(double));
    if (!pos || !vel || !nxt) {
        free(pos), free(vel), free(nxt);
        return 1;
    }
    long frames = (steps + save_every - 1) / save_every;
    for (long s = 0; s < n_sims; s++) {
        memcpy(pos, pos0 + s * m, m * sizeof(double));
        memcpy(vel, vel0 + s * m, m * sizeof(double));
        for (long t = 0, f = 0; t < steps; t++) {
            vicsek_step(n, pos, vel, nxt, params + 4 * s, noise + (t * n_sims + s) * m, box, dt);
            double *tmp = vel;
            vel = nxt, nxt = tmp;
            if (t % save_every == 0) {
                memcpy(out_pos + (s * frames + f) * m, pos, m * sizeof(double));
                memcpy(out_vel + (s * frames + f) * m, vel, m * sizeof(double));
                f++;
            }
        }
    }
    free(pos), free(vel), free(nxt);
    return 0;
}

static void dorsogna_force(int n, const float *pos, const float *vel, const float *p,
                           float *out) {
    float mass = p[0] * p[0] * p[0], alpha = p[1], c_r = p[2], l_r = p[3];
    for (int i = 0; i < n; i++) {
        const float *xi = pos + 3 * i, *vi = vel + 3 * i;
        float acc[3] = {0.0f, 0.0f, 0.0f};
        for (int k = 0; k < n; k++) {
            if (k == i) continue;
            float d[3], r2 = 0.0f;
            for (int c = 0; c < 3; c++) {
                d[c] = xi[c] - pos[3 * k + c];
                r2 += d[c] * d[c];
            }
            float r = sqrtf(r2);
            float mag = mass * (c_r / l_r * expf(-r / l_r) - expf(-r)) / r;
            for (int c = 0; c < 3; c++) acc[c] += mag * d[c];
        }
        float s2 = vi[0] * vi[0] + vi[1] * vi[1] + vi[2] * vi[2];
        for (int c = 0; c < 3; c++) out[3 * i + c] = alpha * vi[c] - s2 * vi[c] + acc[c];
    }
}

int dorsogna_loop(long n_sims, int n, long steps, int save_every, double dt_,
                  const float *params, const float *pos0, const float *vel0, float *out_pos,
                  float *out_vel) {
    size_t m = (size_t)3 * n;
    float dt = (float)dt_;
    float *buf = malloc(11 * m * sizeof(float));
    if (!buf) return 1;
    float *x = buf, *v = buf + m, *kv[4], *kx[4], *tx = buf + 10 * m;
    for (int q = 0; q < 4; q++) kv[q] = buf + (2 + q) * m, kx[q] = buf + (6 + q) * m;
    long frames = (steps + save_every - 1) / save_every;
    for (long s = 0; s < n_sims; s++) {
        const float *p = params + 4 * s;
        memcpy(x, pos0 + s * m, m * sizeof(float));
        memcpy(v, vel0 + s * m, m * sizeof(float));
        for (long t = 0, f = 0; t < steps; t++) {
            /* k1 = (v, F(x, v)); k2 = (v + dt/2 k1v, F(x + dt/2 k1x, k2x)); ... as _rk4 */
            memcpy(kx[0], v, m * sizeof(float));
            dorsogna_force(n, x, kx[0], p, kv[0]);
            for (int q = 1; q < 4; q++) {
                float h = q < 3 ? dt / 2 : dt;
                for (size_t i = 0; i < m; i++) {
                    kx[q][i] = v[i] + h * kv[q - 1][i];
                    tx[i] = x[i] + h * kx[q - 1][i];
                }
                dorsogna_force(n, tx, kx[q], p, kv[q]);
            }
            for (size_t i = 0; i < m; i++) {
                x[i] += dt / 6 * (kx[0][i] + 2 * kx[1][i] + 2 * kx[2][i] + kx[3][i]);
                v[i] += dt / 6 * (kv[0][i] + 2 * kv[1][i] + 2 * kv[2][i] + kv[3][i]);
            }
            if (t % save_every == 0) {
                memcpy(out_pos + (s * frames + f) * m, x, m * sizeof(float));
                memcpy(out_vel + (s * frames + f) * m, v, m * sizeof(float));
                f++;
            }
        }
    }
    free(buf);
    return 0;
}
