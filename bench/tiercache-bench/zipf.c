/* zipf.c - Gray et al. Zipf sampler (see zipf.h). */
#include "zipf.h"

#include <math.h>

static double zeta(uint64_t n, double theta)
{
    uint64_t exact = n < ZIPF_EXACT_TERMS ? n : ZIPF_EXACT_TERMS;
    double sum = 0.0;
    for (uint64_t i = 1; i <= exact; i++)
        sum += pow((double)i, -theta);
    if (n > exact) {
        /* sum_{i=m+1..n} i^-t ~ integral + half the end-point difference */
        double m = (double)exact, nn = (double)n, e = 1.0 - theta;
        sum += (pow(nn, e) - pow(m, e)) / e;
        sum += 0.5 * (pow(nn, -theta) - pow(m, -theta));
    }
    return sum;
}

int zipf_init(struct zipf *z, uint64_t n, double theta)
{
    if (!(theta > 0.0 && theta < 1.0) || n == 0)
        return -1;
    z->n = n;
    z->theta = theta;
    z->alpha = 1.0 / (1.0 - theta);
    z->zetan = zeta(n, theta);
    double zeta2 = zeta(2, theta);
    z->half_pow_theta = 1.0 + pow(0.5, theta);
    if (n <= 2)
        z->eta = 0.0;
    else
        z->eta = (1.0 - pow(2.0 / (double)n, 1.0 - theta)) /
                 (1.0 - zeta2 / z->zetan);
    return 0;
}

uint64_t zipf_sample(const struct zipf *z, double u)
{
    if (z->n == 1)
        return 0;
    double uz = u * z->zetan;
    if (uz < 1.0)
        return 0;
    if (uz < z->half_pow_theta || z->n == 2)
        return 1;
    uint64_t r = (uint64_t)((double)z->n *
                            pow(z->eta * u - z->eta + 1.0, z->alpha));
    return r < z->n ? r : z->n - 1;
}
