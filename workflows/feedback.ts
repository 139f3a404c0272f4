import { CancellationScope, isCancellation } from '@temporalio/workflow';
import { acts } from './activity-proxies.js';
import type { FeedbackRequestInput, RequestSnapshot } from '../domain/request.js';
import { ManualTasks } from './manual-task.js';
import { RequestTracker } from './request-tracker.js';

/**
 * ITIL "Request to Fulfill" for feedback: logged -> routed to the owner of the
 * service it names (the service desk when no service matches) -> the owner
 * acknowledges, then resolves with a reply -> the submitter gets that reply.
 */
export async function feedbackRequest(input: FeedbackRequestInput): Promise<RequestSnapshot> {
  const { requestId } = input;
  const tracker = new RequestTracker({ ...input, type: 'feedback' });
  const tasks = new ManualTasks(tracker, requestId);

  try {
    const route = await tracker.step(
      'route_to_owner',
      () => acts.routeFeedback({ service: input.service }),
      (r) =>
        r.ownerId
          ? `About ${r.serviceName}: routed to its owner ${r.ownerId}.`
          : `No service matches "${input.service}": the service desk triages it.`,
    );
    const owner = route.ownerId ?? undefined;
    const about = `Feedback from ${input.requester} about ${route.serviceName}: "${input.message}"`;
    tracker.admit();
    await tasks.run({
      key: 'acknowledge',
      groupId: input.fallbackGroupId,
      ...(owner ? { assigneeId: owner } : {}),
      title: `Acknowledge feedback on ${route.serviceName}`,
      description: `${about}\n\nAcknowledge that you have read it; ${input.requester} is told.`,
      outcomes: ['acknowledged'],
      step: 'owner_acknowledges',
    });
    await acts.notify({
      key: `${requestId}:acknowledged`,
      requestId,
      recipient: input.requester,
      subject: `Your feedback on ${route.serviceName} was received`,
      body: `${owner ?? 'The service desk'} has read your feedback and will reply.`,
      links: { request: `/api/requests/${requestId}` },
    });
    const resolved = await tasks.run({
      key: 'resolve',
      groupId: input.fallbackGroupId,
      ...(owner ? { assigneeId: owner } : {}),
      title: `Reply to feedback on ${route.serviceName}`,
      description: `${about}\n\nComplete with your reply as the resolution; it is sent to ${input.requester}.`,
      outcomes: ['resolved'],
      step: 'owner_replies',
    });
    const reply = resolved.resolution ?? 'Thank you for the feedback.';
    await acts.notify({
      key: `${requestId}:reply`,
      requestId,
      recipient: input.requester,
      subject: `Reply to your feedback on ${route.serviceName}`,
      body: reply,
      links: { request: `/api/requests/${requestId}` },
    });
    return await tracker.finish('fulfilled', {
      message: reply,
      reason: `replied by ${resolved.completedBy}`,
    });
  } catch (err) {
    if (!isCancellation(err)) throw err;
    return await CancellationScope.nonCancellable(async () => {
      tracker.admit();
      await tasks.cancelOpen();
      return tracker.finish('cancelled', { message: 'The feedback was withdrawn.' });
    });
  }
}
