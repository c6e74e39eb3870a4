// The reference app: Probot receives, verifies and dispatches the webhook; the handler does nothing.
export default (app) => {
  app.on("push", async () => {});
};
