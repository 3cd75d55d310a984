import * as z from 'zod';

// Gemini API wire format (generativelanguage v1beta): the request we build (types only) and the answers we
// read (zod, loose). Reference: https://ai.google.dev/api/generate-content and
// https://ai.google.dev/api/embeddings

export type GeminiPart =
  | { text: string }
  | { inlineData: { mimeType: string; data: string } }
  | { functionCall: { name: string; args: Record<string, unknown> }; thoughtSignature?: string }
  | { functionResponse: { name: string; response: Record<string, unknown> } };

export interface GeminiContent {
  role: 'user' | 'model';
  parts: GeminiPart[];
}

export interface GeminiFunctionDeclaration {
  name: string;
  description?: string;
  parametersJsonSchema?: Record<string, unknown>;
}

export interface GeminiGenerationConfig {
  temperature?: number;
  topP?: number;
  maxOutputTokens?: number;
  stopSequences?: string[];
  candidateCount?: number;
  seed?: number;
  presencePenalty?: number;
  frequencyPenalty?: number;
  responseMimeType?: string;
  responseJsonSchema?: Record<string, unknown>;
}

export interface GeminiRequest {
  contents: GeminiContent[];
  systemInstruction?: { parts: Array<{ text: string }> };
  tools?: Array<{ functionDeclarations: GeminiFunctionDeclaration[] }>;
  toolConfig?: { functionCallingConfig: { mode: 'AUTO' | 'ANY' | 'NONE'; allowedFunctionNames?: string[] } };
  generationConfig?: GeminiGenerationConfig;
}

// ---- answers -------------------------------------------------------------------------------------------

const answerPartSchema = z.looseObject({
  text: z.string().optional(),
  thought: z.boolean().optional(),
  thoughtSignature: z.string().optional(),
  functionCall: z
    .looseObject({ id: z.string().optional(), name: z.string(), args: z.record(z.string(), z.unknown()).optional() })
    .optional(),
});
export type GeminiAnswerPart = z.output<typeof answerPartSchema>;

export const geminiCandidateSchema = z.looseObject({
  content: z.looseObject({ role: z.string().optional(), parts: z.array(answerPartSchema).optional() }).optional(),
  finishReason: z.string().optional(),
  index: z.number().optional(),
});
export type GeminiCandidate = z.output<typeof geminiCandidateSchema>;

export const geminiUsageSchema = z.looseObject({
  promptTokenCount: z.number().optional(),
  candidatesTokenCount: z.number().optional(),
  totalTokenCount: z.number().optional(),
  cachedContentTokenCount: z.number().optional(),
  thoughtsTokenCount: z.number().optional(),
  toolUsePromptTokenCount: z.number().optional(),
});
export type GeminiUsage = z.output<typeof geminiUsageSchema>;

export const geminiAnswerSchema = z.looseObject({
  candidates: z.array(geminiCandidateSchema).optional(),
  promptFeedback: z.looseObject({ blockReason: z.string().optional() }).optional(),
  usageMetadata: geminiUsageSchema.optional(),
  modelVersion: z.string().optional(),
  responseId: z.string().optional(),
});
export type GeminiAnswer = z.output<typeof geminiAnswerSchema>;

/** Errors, also sent as an SSE data line when a stream fails after it started. */
export const geminiErrorSchema = z.looseObject({
  error: z.looseObject({ code: z.number().optional(), message: z.string(), status: z.string().optional() }),
});

export const geminiEmbeddingsAnswerSchema = z.looseObject({
  embeddings: z.array(z.looseObject({ values: z.array(z.number()) })),
});
export type GeminiEmbeddingsAnswer = z.output<typeof geminiEmbeddingsAnswerSchema>;
