/**
 * Assessment results: statistics as JSON and every attempt as a CSV download.
 * Authors and admins only; the service answers 404 for someone else's assessment.
 */
import { Readable } from 'node:stream';
import type { AppContext } from '../../context.ts';
import { who } from '../../http/auth.ts';
import type { App } from '../../http/types.ts';
import { assessmentResults, resultsParams } from './schema.ts';

const tags = ['results'];
const security = [{ bearer: [] }];

/** An ASCII file name from a title (the header value must stay plain). */
function fileName(title: string): string {
  const stem =
    title
      .normalize('NFKD')
      .replace(/[^\w\s-]/g, '')
      .trim()
      .replace(/[\s_]+/g, '-')
      .toLowerCase()
      .slice(0, 60) || 'assessment';
  return `${stem}-results.csv`;
}

export function reportRoutes(app: App, ctx: AppContext): Promise<void> {
  const staff = app.requireRole('author', 'admin');

  app.get(
    '/assessments/:id/results',
    {
      onRequest: staff,
      schema: {
        tags,
        security,
        summary: 'Results of an assessment by district, with item analysis per question',
        description:
          'Over graded attempts of every published version. Scores are in points; histogram bins are percent of the maximum. ' +
          'facility = mean points / max points; discrimination = upper-lower index over the top and bottom 27 % by score.',
        params: resultsParams,
        response: { 200: assessmentResults },
      },
    },
    (req) => ctx.reports.results(who(req), req.params.id),
  );

  app.get(
    '/assessments/:id/results.csv',
    {
      onRequest: staff,
      schema: {
        tags,
        security,
        summary: 'Every attempt of an assessment as CSV (streamed)',
        description:
          'One row per attempt: candidate_id, candidate_name, district, version, status, score, max_score, submitted_at, ' +
          'then the points of each question (empty when not graded or not on that paper). Text cells that a spreadsheet ' +
          'would run as a formula are prefixed with a quote.',
        params: resultsParams,
      },
    },
    async (req, reply) => {
      const out = await ctx.reports.exportCsv(who(req), req.params.id);
      return reply
        .type('text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="${fileName(out.title)}"`)
        .header('cache-control', 'no-store')
        .send(Readable.from(out.rows));
    },
  );
  return Promise.resolve();
}
