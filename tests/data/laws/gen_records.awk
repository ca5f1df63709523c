# gen_records.awk - the records tests/test_laws_cli.sh imports: 36 trials of
# the synthetic scaling surface (worker/synthetic.h: Hoffmann et al. 2022
# approach-3 constants, learning-rate valley 0.1 ln^2(lr/lr*), lr* = 3e-3
# (N/1e7)^-0.3) at compute budgets from 1e15 to 1e20 flops, each off the
# compute-optimal split by a fixed, irregular jitter; every 11th from the
# sixth diverges (a failure record).  Deterministic: no random numbers.
function frac(x) { return x - int(x) }
BEGIN {
    E = 1.69; A = 406.4; B = 410.7; al = 0.34; be = 0.28
    ab = al + be; G = (al * A / (be * B)) ^ (1 / ab)
    for (k = 0; k < 36; k++) {
        C = 10 ^ (15 + 5 * k / 35)
        N = G * (C / 6) ^ (be / ab) * 10 ^ (0.8 * (frac(k * 0.6180339887) - 0.5))
        D = C / (6 * N)
        lrs = 3e-3 * (N / 1e7) ^ -0.3
        lr = lrs * 10 ^ (0.5 * (frac(k * 0.4142135624) - 0.5))
        g = log(lr / lrs)
        L = E + A * N ^ -al + B * D ^ -be + 0.1 * g * g
        if (k % 11 == 5) {
            printf "{\"params\":{\"n_params\":%.17g,\"tokens\":%.17g,\"learning_rate\":%.17g},\"output\":null,\"cost\":%.17g,\"is_failure\":true}\n", N, D, lr * 20, C
            continue
        }
        printf "{\"params\":{\"n_params\":%.17g,\"tokens\":%.17g,\"learning_rate\":%.17g},\"metrics\":{\"n_params\":%.17g,\"tokens\":%.17g},\"output\":%.17g,\"cost\":%.17g,\"is_failure\":false}\n", N, D, lr, N, D, L, C
    }
}
