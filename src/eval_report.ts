/**
 * The result line of `cli.ts eval`: a model's figures with their standard errors and, against a second model on the
 * same images and noise, the paired difference; as text or as JSON.
 *
 * @module
 */
import { type ClassifierEval, type EvalResult, pairedDifference } from "./evaluate.ts";

/** What the eval line says besides the figures. */
export interface EvalReportOptions {
  /** The model's checkpoint. */
  path: string;
  /** The other model's checkpoint, with --against. */
  other?: string;
  /** The other model as the user named it. */
  against?: string;
  /** The data set and split evaluated. */
  dataset: string;
  split: string;
  /** Samples of z per image (K of the importance-weighted bound). */
  samples: number;
  /** Whether the data is the paper's (NLL figures comparable with Table 2). */
  comparable: boolean;
  /** JSON instead of text. */
  json: boolean;
}

/** The eval line for `r` (and `o`, the --against model's result, on the same images). */
export function evalReport(
  r: EvalResult | ClassifierEval,
  o: EvalResult | ClassifierEval | undefined,
  opts: EvalReportOptions,
): string {
  const lines: string[] = [];
  const head = `${opts.dataset} ${opts.split} (${r.count} images)`;
  if (!("elbo" in r)) {
    const c = r, oc = o && !("elbo" in o) ? o : undefined;
    const d = oc && pairedDifference(c.perImage, oc.perImage);
    if (opts.json) {
      lines.push(JSON.stringify({
        checkpoint: opts.path,
        dataset: opts.dataset,
        split: opts.split,
        count: c.count,
        error: c.error,
        error_se: c.errorSe,
        cross_entropy: c.loss,
        ...(d && oc &&
          { against: { checkpoint: opts.other, error: oc.error, error_diff: d.mean, error_diff_se: d.se } }),
      }));
    } else {
      lines.push(
        `${head}: error ${(100 * c.error).toFixed(2)}% ± ${(100 * c.errorSe).toFixed(2)} (± one standard error over ` +
          `the images; cross-entropy ${c.loss.toFixed(4)})` +
          (d && oc
            ? `; minus ${opts.against}'s (${(100 * oc.error).toFixed(2)}%): ${plusMinus(100 * d.mean, 100 * d.se)} ` +
              `points (paired: the same images)`
            : ""),
      );
    }
    return lines.join("\n");
  }
  const e = r as EvalResult, oe = o as EvalResult | undefined;
  const d = oe && pairedDifference(e.perImage.elbo, oe.perImage.elbo);
  const di = oe && e.perImage.iw && pairedDifference(e.perImage.iw, oe.perImage.iw!);
  if (opts.json) {
    lines.push(
      JSON.stringify({
        checkpoint: opts.path,
        dataset: opts.dataset,
        split: opts.split,
        count: e.count,
        elbo_bound_nats: e.elbo,
        elbo_se: e.elboSe,
        lx: e.lx,
        lz: e.lz,
        samples: opts.samples,
        iw_bound_nats: e.iwBound,
        iw_se: e.iwSe,
        comparable_with_paper: opts.comparable,
        ...(oe && d && {
          against: {
            checkpoint: opts.other,
            elbo_bound_nats: oe.elbo,
            iw_bound_nats: oe.iwBound,
            elbo_diff: d.mean,
            elbo_diff_se: d.se,
            iw_diff: di?.mean,
            iw_diff_se: di?.se,
          },
        }),
      }),
    );
  } else {
    lines.push(
      `${head}: NLL <= ${e.elbo.toFixed(2)} ± ${e.elboSe.toFixed(2)} nats (Eq 12 bound; Lx ${e.lx.toFixed(2)}, ` +
        `Lz ${e.lz.toFixed(2)})` +
        (e.iwBound !== undefined
          ? `; NLL <= ${e.iwBound.toFixed(2)} ± ${
            e.iwSe!.toFixed(2)
          } nats (importance-weighted bound, K=${opts.samples}, ` +
            `tighter than the paper's)`
          : "") +
        " (± one standard error over the images)" +
        (oe && d
          ? `; minus ${opts.against}'s (${oe.elbo.toFixed(2)}${
            oe.iwBound !== undefined ? `, ${oe.iwBound.toFixed(2)}` : ""
          }): ${plusMinus(d.mean, d.se)} nats by Eq 12` +
            (di ? `, ${plusMinus(di.mean, di.se)} importance-weighted` : "") +
            " (paired: the same images, the same noise seed)"
          : ""),
    );
  }
  return lines.join("\n");
}

/** A difference with its sign, to `digits` places (two unless given). */
function signed(x: number, digits = 2): string {
  return `${x < 0 ? "−" : "+"}${Math.abs(x).toFixed(digits)}`;
}

/**
 * A difference ± its standard error, to `digits` places (two unless given), or to as many more (up to eight) as
 * show the standard error's first significant digit: a rounding's 0.00004 ± 0.00004 nats reads so, not 0.00 ± 0.00.
 */
export function plusMinus(mean: number, se: number, digits = 2): string {
  const k = se > 0 && Number.isFinite(se) ? Math.max(digits, Math.min(8, -Math.floor(Math.log10(se)))) : digits;
  return `${signed(mean, k)} ± ${se.toFixed(k)}`;
}
