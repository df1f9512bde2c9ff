// Uploads API: multipart upload (the JSON client does not do multipart) and the per-workspace lists that feed
// upload and select widgets (`source: uploads.image | uploads.video | uploads.audio | uploads.file`).
import { apiRequest, ApiError, readCookie, toApiError } from "../api/client";
import { uploadListSchema, uploadSchema, type Upload } from "./upload-schemas";

export type UploadKind = "image" | "video" | "audio" | "file";

/** `uploads.image|video|audio` → that kind, `uploads.file` → every upload; other sources are not uploads. */
export function kindOfSource(source: string | null | undefined): UploadKind | "all" | null {
  if (source === "uploads.image" || source === "uploads.video" || source === "uploads.audio") {
    return source.slice("uploads.".length) as UploadKind;
  }
  if (source === "uploads.file") return "all";
  return null;
}

/** What an upload widget accepting `accept` lists, asks the server to store, and lets the file dialog pick. */
export function uploadWidgetKind(accept: UploadKind | undefined): {
  list: UploadKind | "all";
  kind: UploadKind | undefined;
  fileTypes: string | undefined;
} {
  const kind = accept ?? "image";
  if (kind === "file") return { list: "all", kind: undefined, fileTypes: undefined };
  return { list: kind, kind, fileTypes: `${kind}/*` };
}

export const uploadsApi = {
  list: (workspace: number, kind?: UploadKind) =>
    apiRequest("/api/uploads", uploadListSchema, { query: { workspace, kind } }),
  upload: async (workspace: number, file: File, kind?: UploadKind): Promise<Upload> => {
    const form = new FormData();
    form.append("file", file);
    form.append("workspace", String(workspace));
    if (kind) form.append("kind", kind);
    const headers: Record<string, string> = { Accept: "application/json" };
    const token = readCookie("csrftoken");
    if (token) headers["X-CSRFToken"] = token;
    let response: Response;
    try {
      response = await fetch("/api/uploads", { method: "POST", body: form, headers, credentials: "same-origin" });
    } catch {
      throw new ApiError(0, "Cannot reach the server. Check your connection.");
    }
    if (!response.ok) throw await toApiError(response);
    const parsed = uploadSchema.safeParse(await response.json().catch(() => undefined));
    if (!parsed.success) throw new ApiError(response.status, "The server answered the upload in an unexpected shape.");
    return parsed.data;
  },
};

/** Thumbnail path of an image upload (`size` one of 64, 128, 256, 512). */
export function thumbnailUrl(upload: Pick<Upload, "id">, size: 64 | 128 | 256 | 512 = 128): string {
  return `/api/uploads/${upload.id}/thumbnail?size=${size}`;
}
