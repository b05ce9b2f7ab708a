// The project's status function: what the stack told it, and when it was asked.
exports.handler = async (event) => ({
  modelPackageGroup: process.env.MODEL_PACKAGE_GROUP,
  seedCode: process.env.SEED_CODE_URL,
  asked: event && event.question,
});
