// NodeImageResizeLambda: the guide's resize in JavaScript. For every record of an S3 event: fetch the
// object (its key URL-decoded), make a half-size copy with sharp, and store it as resized-<key> in the
// destination bucket. Deployable to AWS unchanged (nodejs22.x or nodejs20.x, with its node_modules):
// the AWS SDK finds the local endpoint through AWS_ENDPOINT_URL, which only the sandbox sets.
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import sharp from 'sharp';

const s3 = new S3Client({});
const DESTINATION_BUCKET = process.env.DESTINATION_BUCKET || 'resized-image-bucket123';
const OUTPUT_PREFIX = 'resized-';
const WRITABLE_FORMATS = new Set(['jpeg', 'png', 'webp', 'gif', 'tiff', 'avif']);

// S3 event keys are URL-encoded, with spaces as '+'.
const decodeKey = (key) => decodeURIComponent(key.replace(/\+/g, ' '));

async function resizeOne(record) {
  const bucket = record.s3.bucket.name;
  const key = decodeKey(record.s3.object.key);
  if (key.startsWith(OUTPUT_PREFIX) && bucket === DESTINATION_BUCKET) {
    return { key, skipped: 'already a resized copy' }; // never resize our own output
  }
  const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const input = Buffer.from(await object.Body.transformToByteArray());
  const meta = await sharp(input).metadata();
  const turned = (meta.orientation ?? 1) >= 5; // EXIF orientations 5-8 swap width and height
  const [width, height] = turned ? [meta.height, meta.width] : [meta.width, meta.height];
  // The copy keeps the source's format (so resized-<key> keeps a truthful extension), JPEG otherwise.
  const format = WRITABLE_FORMATS.has(meta.format) ? meta.format : 'jpeg';
  const output = await sharp(input, { animated: false })
    .rotate() // apply the EXIF orientation, as a viewer shows the photo
    .resize(Math.max(1, Math.floor(width / 2)), Math.max(1, Math.floor(height / 2)))
    .toFormat(format)
    .toBuffer();
  const outputKey = OUTPUT_PREFIX + key;
  await s3.send(new PutObjectCommand({ Bucket: DESTINATION_BUCKET, Key: outputKey, Body: output,
    ContentType: `image/${format}` }));
  console.log(`resized s3://${bucket}/${key} (${width}x${height}, ${input.length} bytes) `
    + `-> s3://${DESTINATION_BUCKET}/${outputKey} (${output.length} bytes)`);
  return { key, outputKey, bytes: output.length };
}

export const handler = async (event) => {
  const results = [];
  const failures = [];
  for (const record of event.Records ?? []) {
    try {
      results.push(await resizeOne(record));
    } catch (error) {
      console.error(`could not resize ${record?.s3?.object?.key}:`, error);
      failures.push(record?.s3?.object?.key);
    }
  }
  if (failures.length) {
    // Failing the invocation lets Lambda retry an asynchronous event (and dead-letter it at the end).
    const total = results.length + failures.length;
    throw new Error(`${failures.length} of ${total} images failed: ${failures.join(', ')}`);
  }
  return { statusCode: 200, body: JSON.stringify(results) };
};
