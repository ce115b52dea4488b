/** Response schemas of the assessment results routes. */
import { z } from 'zod';

export const resultsParams = z.object({ id: z.guid() });

const bin = z.object({
  /** Score percentage, inclusive. */
  from: z.number(),
  /** Score percentage, exclusive except for the last bin (90-100 includes 100). */
  to: z.number(),
  count: z.number().int(),
});

export const districtResults = z.object({
  district: z.string(),
  /** Distinct candidates with an attempt in this district's sessions. */
  candidates: z.number().int(),
  /** Attempts started in this district's sessions. */
  attempts: z.number().int(),
  /** Attempts handed in (submitted or graded). */
  submitted: z.number().int(),
  /** Attempts graded: the statistics below are over these. */
  graded: z.number().int(),
  mean: z.number().nullable().describe('points, 2 decimals; null when nothing is graded'),
  median: z.number().nullable(),
  min: z.number().nullable(),
  max: z.number().nullable(),
  histogram: z.array(bin).describe('10 bins of score percentage: 0-10, 10-20, …, 90-100'),
});

export const questionResults = z.object({
  questionId: z.string(),
  stem: z.string(),
  type: z.string(),
  /** Points the question is worth (latest version that has it). */
  points: z.number(),
  /** Graded attempts whose paper had this question. */
  given: z.number().int(),
  /** Graded attempts that answered it. */
  responses: z.number().int(),
  facility: z.number().nullable().describe('mean points / max points, 0..1 (4 decimals); null when no graded attempt had it'),
  discrimination: z
    .number()
    .nullable()
    .describe('upper-lower index over the top and bottom 27 % of graded attempts by score, -1..1; null below 4 graded attempts'),
});

export const assessmentResults = z.object({
  assessmentId: z.string(),
  title: z.string(),
  /** Of the latest published version; 0 while nothing is published. */
  maxScore: z.number(),
  /** Attempts started, every status and version. */
  attempts: z.number().int(),
  submitted: z.number().int(),
  graded: z.number().int(),
  districts: z.array(districtResults),
  questions: z.array(questionResults),
});

export type AssessmentResults = z.infer<typeof assessmentResults>;
export type DistrictResults = z.infer<typeof districtResults>;
export type QuestionResults = z.infer<typeof questionResults>;
