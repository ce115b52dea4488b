/**
 * The HTTP-facing shapes of assessments: what an author sends (validated here,
 * so the service only ever sees well-formed drafts) and what the API returns.
 */
import { z } from 'zod';
import type { ReleasePolicy } from '../../platform/db/schema.ts';
import { tagSchema } from '../questions/listing.ts';

export const releasePolicies = ['on_submit', 'after_session', 'manual'] as const satisfies readonly ReleasePolicy[];

export const fixedItem = z.strictObject({ questionId: z.guid() });
export const randomItem = z.strictObject({
  tag: tagSchema,
  count: z.number().int().min(1).max(1000),
});
/** A draft item: one named question, or `count` questions drawn per candidate from the approved ones tagged `tag`. */
export const assessmentItem = z.union([fixedItem, randomItem]);
export type AssessmentItem = z.infer<typeof assessmentItem>;

/**
 * A question listed twice would be counted twice in the max score but shown
 * once; two sections on one tag would compete for the same pool. Both are
 * almost certainly mistakes, so they are refused where the author can see them.
 */
const items = z
  .array(assessmentItem)
  .max(500)
  .superRefine((list, ctx) => {
    const ids = new Set<string>();
    const tags = new Set<string>();
    list.forEach((item, i) => {
      if ('questionId' in item) {
        const id = item.questionId.toLowerCase();
        if (ids.has(id)) {
          ctx.addIssue({ code: 'custom', path: [i, 'questionId'], message: `question ${item.questionId} is listed twice` });
        }
        ids.add(id);
      } else {
        if (tags.has(item.tag)) {
          ctx.addIssue({
            code: 'custom',
            path: [i, 'tag'],
            message: `tag "${item.tag}" has two sections; use one section with the total count`,
          });
        }
        tags.add(item.tag);
      }
    });
  });

const fields = {
  title: z.string().trim().min(1).max(200),
  description: z.string().max(10_000),
  timeLimitS: z.number().int().min(60).max(86_400),
  shuffleItems: z.boolean(),
  shuffleOptions: z.boolean(),
  releasePolicy: z.enum(releasePolicies),
  items,
};

export const assessmentInput = z.strictObject({
  title: fields.title,
  description: fields.description.default(''),
  timeLimitS: fields.timeLimitS,
  shuffleItems: fields.shuffleItems.default(false),
  shuffleOptions: fields.shuffleOptions.default(false),
  releasePolicy: fields.releasePolicy.default('on_submit'),
  items: fields.items.default([]),
});
export type AssessmentInput = z.infer<typeof assessmentInput>;

/** Every field optional; `items` replaces the whole list. */
export const assessmentPatch = z.strictObject({
  title: fields.title.optional(),
  description: fields.description.optional(),
  timeLimitS: fields.timeLimitS.optional(),
  shuffleItems: fields.shuffleItems.optional(),
  shuffleOptions: fields.shuffleOptions.optional(),
  releasePolicy: fields.releasePolicy.optional(),
  items: fields.items.optional(),
});
export type AssessmentPatch = z.infer<typeof assessmentPatch>;

export const versionSummary = z.object({
  id: z.string(),
  version: z.number().int(),
  publishedAt: z.string(),
  maxScore: z.number(),
  /** How many questions each candidate gets. */
  questionCount: z.number().int(),
});
export type VersionSummary = z.infer<typeof versionSummary>;

export const assessmentView = z.object({
  id: z.string(),
  ownerId: z.string(),
  title: z.string(),
  description: z.string(),
  timeLimitS: z.number().int(),
  shuffleItems: z.boolean(),
  shuffleOptions: z.boolean(),
  releasePolicy: z.enum(releasePolicies),
  items: z.array(assessmentItem),
  /** 0 until the first publish. */
  latestVersion: z.number().int(),
  resultsReleasedAt: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type AssessmentView = z.infer<typeof assessmentView>;

export const assessmentDetail = assessmentView.extend({ versions: z.array(versionSummary) });
export type AssessmentDetail = z.infer<typeof assessmentDetail>;
