import { CancellationScope, isCancellation, patched } from '@temporalio/workflow';
import { acts, requesterNotifier } from './activity-proxies.js';
import type { ResourceItem } from '../activities/procurement.js';
import { SURVEY_LINK_REF, type RequestSnapshot, type ResourceRequestInput } from '../domain/request.js';
import { Approvals, decidersOf } from './approval.js';
import { ManualTasks } from './manual-task.js';
import { auditorFor, failureType, messageOf, RequestTracker } from './request-tracker.js';

/**
 * ITIL "Request to Fulfill" for a resource (a second monitor): approval -> purchase
 * order -> procurement confirms ordered, shipped, delivered (each a manual task) ->
 * the delivered asset becomes a CMDB CI assigned to the user -> notify. Denial,
 * cancellation (the order is cancelled too) and a delivery that never comes each
 * end cleanly.
 */
export async function resourceRequest(input: ResourceRequestInput): Promise<RequestSnapshot> {
  const { requestId } = input;
  const tracker = new RequestTracker({ ...input, type: 'resource' });
  const tasks = new ManualTasks(tracker, requestId);
  const audit = auditorFor(requestId, input.beneficiary);
  let orderId: string | undefined;

  const approvalGates = new Approvals(tracker);

  const notifyRequester = requesterNotifier(requestId, input.requester, input.beneficiary);

  try {
    await tracker.setStatus('checking_entitlement');
    let item: ResourceItem;
    try {
      item = await tracker.step(
        'check_resource_item',
        () =>
          acts.checkResourceItem({
            catalogItemId: input.catalogItemId,
            ...(input.catalogItemVersion ? { catalogItemVersion: input.catalogItemVersion } : {}),
            beneficiary: input.beneficiary,
          }),
        (i) =>
          `${i.itemName}, ${(i.unitCostCents / 100).toFixed(2)} EUR, delivered by ${i.fulfillmentGroupId}.`,
      );
    } catch (err) {
      if (failureType(err) !== 'NotEntitled') throw err;
      tracker.admit();
      return await tracker.finish('rejected', {
        message: `Request rejected: ${messageOf(err)}`,
        reason: messageOf(err),
      });
    }

    const result = await approvalGates.seek(input, item);
    if (result.outcome !== 'approved') {
      const denied = result.outcome === 'denied' ? result.decision : undefined;
      const message = denied
        ? `Denied by ${denied.approver}${denied.comment ? `: ${denied.comment}` : '.'}`
        : `No decision within ${input.approval.expireAfter}; the request expired.`;
      await notifyRequester(
        result.outcome,
        `Your request for ${item.itemName} was ${result.outcome}`,
        message,
      );
      return await tracker.finish(result.outcome, {
        message,
        reason: denied ? (denied.comment ?? `denied by ${denied.approver}`) : 'approval_expired',
      });
    }
    const { seq } = await audit(
      'request.approved',
      { catalogItemId: input.catalogItemId, approvals: result.decisions },
      decidersOf(result.decisions),
    );
    await tracker.setStatus('approved');

    await tracker.setStatus('fulfilling');
    ({ orderId } = await tracker.step(
      'place_order',
      () => acts.placeProcurementOrder({ requestId, item: item.itemName, costCents: item.unitCostCents }),
      (o) => `Purchase order ${o.orderId}: ${item.itemName}, ${(item.unitCostCents / 100).toFixed(2)} EUR.`,
    ));
    const po = orderId;
    const group = item.fulfillmentGroupId;
    // While procurement works the request waits on people: `awaiting_task`, as every other
    // human step. Runs started before this release go on showing `fulfilling` (no marker).
    const taskStatus = patched('resource-awaiting-task') ? 'awaiting_task' : 'fulfilling';
    const forWhom = `${item.itemName} for ${input.beneficiary} (${requestId}, order ${po})`;

    await tasks.run({
      key: 'ordered',
      groupId: group,
      title: `Order ${forWhom}`,
      description: `Place order ${po} with the supplier, then complete this task.`,
      outcomes: ['ordered'],
      step: 'supplier_order',
      status: taskStatus,
    });
    await tasks.run({
      key: 'shipped',
      groupId: group,
      title: `Confirm shipment of ${forWhom}`,
      description: 'Complete when the supplier has shipped it; put the tracking number in the resolution.',
      outcomes: ['shipped'],
      step: 'shipment',
      status: taskStatus,
    });
    await acts.advanceProcurementOrder({ orderId: po, state: 'shipped' });
    const delivered = await tasks.run({
      key: 'delivered',
      groupId: group,
      title: `Deliver ${forWhom}`,
      description: `Hand it to ${input.beneficiary} and complete with the asset tag as the resolution.`,
      outcomes: ['delivered'],
      step: 'delivery',
      status: taskStatus,
      timeout: input.deliveryTimeout,
    });
    if (!delivered) {
      // The delivery never came: stop waiting, cancel the order, and give it to people.
      await acts.cancelProcurementOrder({ orderId: po });
      const { taskId } = await acts.openManualTask({
        key: `${requestId}:delivery-overdue`,
        requestId,
        groupId: 'service-desk',
        title: `Delivery overdue: ${forWhom}`,
        description: `Nothing was delivered within ${input.deliveryTimeout}; order ${po} was cancelled. Follow up with the supplier and ${input.beneficiary}.`,
      });
      const message = `${item.itemName} was not delivered within ${input.deliveryTimeout}; order ${po} was cancelled and the service desk follows up (task ${taskId}).`;
      await notifyRequester('delivery-overdue', `${item.itemName} was not delivered`, message);
      return await tracker.finish('failed', { message, reason: 'delivery_overdue', taskId });
    }
    await tracker.setStatus('fulfilling');
    const assetTag = delivered.resolution?.trim() || `${po}-1`;
    await acts.advanceProcurementOrder({ orderId: po, state: 'delivered', assetTag });
    const { ciId } = await tracker.step(
      'update_cmdb',
      () =>
        acts.recordHardwareAsset({
          requestId,
          assetTag,
          product: item.itemName,
          assignedTo: input.beneficiary,
        }),
      (r) => `Asset CI ${r.ciId} assigned to ${input.beneficiary}.`,
    );
    await audit('asset.assigned', { ciId, assetTag, orderId: po, approvalAuditSeq: seq });
    // The signed link is made where the notification is written, never in the history.
    const survey = patched('survey-link-at-delivery')
      ? SURVEY_LINK_REF
      : await acts.surveyLinkFor({ requestId, requester: input.requester });
    await tracker.step(
      'notify_requester',
      () =>
        notifyRequester(
          'fulfilled',
          `${item.itemName} delivered`,
          `${item.itemName} (asset ${assetTag}) was delivered to ${input.beneficiary}. Tell us how it went in a one-question survey.`,
          { survey },
        ),
      () => `Notified ${input.requester}.`,
    );
    return await tracker.finish('fulfilled', { message: `${item.itemName} delivered (asset ${assetTag}).` });
  } catch (err) {
    if (!isCancellation(err)) throw err;
    return await CancellationScope.nonCancellable(async () => {
      tracker.admit();
      await tasks.cancelOpen();
      if (orderId) await acts.cancelProcurementOrder({ orderId });
      return tracker.finish('cancelled', {
        message: orderId ? `Cancelled; purchase order ${orderId} was cancelled too.` : 'Cancelled.',
      });
    });
  }
}
