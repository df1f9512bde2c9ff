// A small node catalog shaped like GET /api/nodes, for tests and for the editor's offline demo.
import { nodeSchemaSchema, type NodeSchema, type NodeSchemaInput } from "../api/schemas";
import { makeCatalog, type Catalog } from "./graph-model";

const raw: NodeSchemaInput[] = [
  {
    type: "LoadImage",
    display_name: "Load Image",
    category: "image/io",
    description: "Load an uploaded image",
    inputs: [
      {
        name: "image",
        type: "STRING",
        required: true,
        mode: "widget",
        widget: { kind: "upload", accept: "image", source: "uploads.image" },
      },
    ],
    outputs: [
      { name: "image", type: "IMAGE" },
      { name: "mask", type: "MASK" },
    ],
  },
  {
    type: "EmptyImage",
    display_name: "Empty Image",
    category: "image",
    description: "A blank image of one colour",
    inputs: [
      {
        name: "width",
        type: "INT",
        required: false,
        mode: "both",
        default: 512,
        has_default: true,
        widget: { kind: "number", min: 1, max: 8192, step: 1 },
      },
      {
        name: "height",
        type: "INT",
        required: false,
        mode: "both",
        default: 512,
        has_default: true,
        widget: { kind: "number", min: 1, max: 8192, step: 1 },
      },
      {
        name: "color",
        type: "STRING",
        required: false,
        mode: "both",
        default: "#000000",
        has_default: true,
        widget: { kind: "color" },
      },
    ],
    outputs: [{ name: "image", type: "IMAGE" }],
  },
  {
    type: "ImageBlur",
    display_name: "Blur",
    category: "image/filter",
    description: "Gaussian blur",
    inputs: [
      { name: "image", type: "IMAGE", required: true, mode: "socket" },
      {
        name: "radius",
        type: "INT",
        required: false,
        mode: "both",
        default: 3,
        has_default: true,
        widget: { kind: "number", min: 1, max: 31, step: 1, slider: true },
      },
    ],
    outputs: [{ name: "image", type: "IMAGE" }],
  },
  {
    type: "ImageInvert",
    display_name: "Invert Image",
    category: "image/filter",
    inputs: [{ name: "image", type: "IMAGE", required: true, mode: "socket" }],
    outputs: [{ name: "image", type: "IMAGE" }],
  },
  {
    type: "MaskToImage",
    display_name: "Mask to Image",
    category: "mask",
    inputs: [{ name: "mask", type: "MASK", required: true, mode: "socket" }],
    outputs: [{ name: "image", type: "IMAGE" }],
  },
  {
    type: "CompositeMasked",
    display_name: "Composite Masked",
    category: "image/compose",
    inputs: [
      { name: "mask", type: "MASK", required: true, mode: "socket" },
      { name: "destination", type: "IMAGE", required: true, mode: "socket" },
      { name: "source", type: "IMAGE", required: true, mode: "socket" },
    ],
    outputs: [{ name: "image", type: "IMAGE" }],
  },
  {
    type: "SaveImage",
    display_name: "Save Image",
    category: "image/io",
    output_node: true,
    inputs: [
      { name: "images", type: "IMAGE", required: true, mode: "socket" },
      {
        name: "filename_prefix",
        type: "STRING",
        required: false,
        mode: "both",
        default: "flowyard",
        has_default: true,
        widget: { kind: "text", multiline: false, placeholder: "prefix" },
      },
    ],
    outputs: [],
  },
  {
    type: "NoiseImage",
    display_name: "Noise Image",
    category: "image/generate",
    non_deterministic: false,
    inputs: [
      {
        name: "seed",
        type: "INT",
        required: false,
        mode: "both",
        default: 0,
        has_default: true,
        widget: { kind: "seed", min: 0, max: 9007199254740991, control_after_run: "randomize" },
      },
      {
        name: "kind",
        type: "STRING",
        required: false,
        mode: "both",
        default: "uniform",
        has_default: true,
        widget: { kind: "select", options: ["uniform", "gaussian", "perlin"] },
      },
      {
        name: "note",
        type: "STRING",
        required: false,
        mode: "both",
        default: "",
        has_default: true,
        widget: { kind: "text", multiline: true, placeholder: "notes" },
      },
      {
        name: "grayscale",
        type: "BOOLEAN",
        required: false,
        mode: "both",
        default: false,
        has_default: true,
        widget: { kind: "toggle", label_on: "gray", label_off: "colour" },
      },
      {
        name: "strength",
        type: "FLOAT",
        required: false,
        mode: "both",
        default: 0.5,
        has_default: true,
        widget: { kind: "number", min: 0, max: 1, step: 0.01, slider: false },
      },
      {
        name: "model",
        type: "STRING",
        required: false,
        mode: "widget",
        default: null,
        has_default: false,
        widget: { kind: "select", options: null, source: "models.noise" },
      },
    ],
    outputs: [{ name: "image", type: "IMAGE" }],
  },
  {
    type: "math.Add",
    display_name: "Add",
    category: "utils/math",
    description: "Add two numbers",
    inputs: [
      {
        name: "a",
        type: "FLOAT|INT",
        required: true,
        mode: "both",
        default: 0,
        has_default: true,
        widget: { kind: "number", step: 0.01 },
      },
      {
        name: "b",
        type: "FLOAT|INT",
        required: true,
        mode: "both",
        default: 0,
        has_default: true,
        widget: { kind: "number", step: 0.01 },
      },
    ],
    outputs: [{ name: "sum", type: "FLOAT" }],
  },
  {
    type: "PreviewAny",
    display_name: "Preview Any",
    category: "utils",
    output_node: true,
    inputs: [{ name: "value", type: "ANY", required: true, mode: "socket" }],
    outputs: [],
  },
  {
    type: "BatchImages",
    display_name: "Batch Images",
    category: "image/batch",
    inputs: [{ name: "images", type: "LIST[IMAGE]", required: true, mode: "socket" }],
    outputs: [{ name: "batch", type: "LIST[IMAGE]" }],
  },
];

export const sampleSchemas: NodeSchema[] = raw.map((s) => nodeSchemaSchema.parse(s));
export const sampleCatalog: Catalog = makeCatalog(sampleSchemas);

export function schemaOf(type: string): NodeSchema {
  const schema = sampleCatalog.get(type);
  if (!schema) throw new Error(`no sample schema ${type}`);
  return schema;
}
