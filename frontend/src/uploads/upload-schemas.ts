// zod schema of an upload (docs/api.md "Uploads").
import { z } from "zod";

export const uploadSchema = z.object({
  id: z.number(),
  workspace: z.number(),
  name: z.string(),
  kind: z.enum(["image", "video", "audio", "file"]),
  content_type: z.string(),
  size: z.number(),
  sha256: z.string(),
  width: z.number().nullable(),
  height: z.number().nullable(),
  created_by: z.object({ id: z.number(), username: z.string() }).nullable(),
  created: z.string(),
  updated: z.string(),
  content_url: z.string(),
  thumbnail_url: z.string().nullable(),
});
export type Upload = z.infer<typeof uploadSchema>;
export const uploadListSchema = z.array(uploadSchema);
