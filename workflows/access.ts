import {
  CancellationScope,
  isCancellation,
  ParentClosePolicy,
  patched,
  startChild,
} from '@temporalio/workflow';
import { grantTimerWorkflowId } from '../domain/access.js';
import { accessGrantTimer, endGrantTimer } from './access-grant.js';
import type { AccessItem } from '../activities/access.js';
import { acts, requesterNotifier } from './activity-proxies.js';
import {
  SURVEY_LINK_REF,
  type AccessRequestInput,
  type Approval,
  type RequestSnapshot,
} from '../domain/request.js';
import { Approvals, decidersOf } from './approval.js';
import { auditorFor, failureType, messageOf, RequestTracker } from './request-tracker.js';

/**
 * ITIL "Request to Fulfill" for access: a sensitive resource waits for its approvers
 * (the beneficiary's manager by default), then the beneficiary is added to the
 * security group, the grant is audited with the approval that allowed it, and the
 * requester is notified. Denial, expiry and cancellation each end cleanly.
 */
export async function accessRequest(input: AccessRequestInput): Promise<RequestSnapshot> {
  const { requestId } = input;
  const tracker = new RequestTracker({ ...input, type: 'access' });

  const approvalGates = new Approvals(tracker);

  const notifyRequester = requesterNotifier(requestId, input.requester, input.beneficiary);
  const audit = auditorFor(requestId, input.beneficiary);
  /** The security group once the grant and its audit entry happened: a later cancellation revokes it. */
  let granted: string | undefined;

  try {
    await tracker.setStatus('checking_entitlement');
    let item: AccessItem;
    try {
      item = await tracker.step(
        'check_access_item',
        () =>
          acts.checkAccessItem({
            catalogItemId: input.catalogItemId,
            ...(input.catalogItemVersion ? { catalogItemVersion: input.catalogItemVersion } : {}),
            beneficiary: input.beneficiary,
            ...(input.renewalOf ? { renewal: true } : {}),
          }),
        (i) =>
          `${i.itemName} grants ${i.securityGroup}; ${i.sensitive ? 'sensitive: approval required' : 'not sensitive: no approval needed'}.`,
      );
    } catch (err) {
      if (failureType(err) !== 'NotEntitled') throw err;
      const reason = messageOf(err);
      await notifyRequester('rejected', `Your request ${requestId} was rejected`, reason);
      tracker.admit();
      return await tracker.finish('rejected', { message: `Request rejected: ${reason}`, reason });
    }

    let approvals: Approval[];
    if (item.approvalPolicy.length > 0) {
      const result = await approvalGates.seek(input, item);
      if (result.outcome === 'denied') {
        const d = result.decision;
        await audit('request.denied', { approval: d }, d.approver);
        await notifyRequester(
          'denied',
          `Your request for ${item.itemName} was denied`,
          `${d.approver} denied the request${d.comment ? `: "${d.comment}"` : '.'}`,
        );
        return await tracker.finish('denied', {
          message: `Denied by ${d.approver}${d.comment ? `: ${d.comment}` : '.'}`,
          reason: d.comment ?? `denied by ${d.approver}`,
        });
      }
      if (result.outcome === 'expired') {
        await audit('request.expired', { level: result.level });
        await notifyRequester(
          'expired',
          `Your request for ${item.itemName} expired`,
          `Nobody decided on it within ${input.approval.expireAfter} (${result.level}). Submit it again if you still need access.`,
        );
        return await tracker.finish('expired', {
          message: `No decision within ${input.approval.expireAfter}; the request expired.`,
          reason: 'approval_expired',
        });
      }
      approvals = result.decisions;
    } else {
      const auto: Approval = {
        kind: 'standard_change',
        approver: 'reqflow',
        decision: 'approve',
        comment: `${item.itemName} is not sensitive: granted without approval.`,
        decidedAt: new Date(Date.now()).toISOString(),
      };
      await tracker.addApproval(auto);
      approvals = [auto];
    }

    const { seq } = await audit(
      'request.approved',
      { catalogItemId: input.catalogItemId, approvals },
      decidersOf(approvals),
    );
    const announceApproval = () =>
      notifyRequester(
        'approved',
        `Pending fulfillment: ${item.itemName}`,
        `Your request was approved by ${approvals.map((a) => a.approver).join(', ')}; access is being provisioned.`,
      );
    // The "approved" notice needs nothing the grant does and the grant nothing from it (it waits
    // for the approved status and carries the approval's audit seq): the notice runs beside both
    // statuses and the grant, which is then scheduled in the same workflow task, a server round
    // trip sooner. It is awaited before the fulfilled notice, so "granted" is never written before
    // "approved"; its key keeps it to one delivery. A rejection (a cancellation) is marked handled
    // now and thrown where it is awaited, after the grant, which a cancellation then revokes as
    // before. Runs from before the patch sent the notice first and replay so.
    let approvalNotice: Promise<void> | undefined;
    if (patched('approval-notice-beside-grant')) {
      approvalNotice = announceApproval();
      approvalNotice.catch(() => undefined);
    }
    await tracker.setStatus('approved');
    tracker.admit();
    if (!approvalNotice) await announceApproval();

    await tracker.setStatus('fulfilling');
    const grantAndAudit = async () => {
      const { added } = await tracker.step(
        'grant_group_membership',
        () =>
          acts.grantGroupMembership({
            requestId,
            groupId: item.securityGroup,
            userId: input.beneficiary,
            approvalAuditSeq: seq,
          }),
        (r) =>
          r.added
            ? `${input.beneficiary} added to ${item.securityGroup}.`
            : `${input.beneficiary} was already a member of ${item.securityGroup}.`,
      );
      await audit('access.granted', {
        securityGroup: item.securityGroup,
        user: input.beneficiary,
        added,
        approvalAuditSeq: seq,
        approvals,
      });
    };
    if (patched('grant-as-record')) {
      // The grant, its membership and its audit entry are one activity (one transaction), and
      // a cancellation does not cut it (see below); a time-bound grant then gets its own timer.
      const until = input.accessUntil;
      const r = await CancellationScope.nonCancellable(() =>
        tracker.step(
          'grant_group_membership',
          () =>
            acts.grantAccess({
              requestId,
              groupId: item.securityGroup,
              userId: input.beneficiary,
              catalogItemId: input.catalogItemId,
              approvedBy: [...new Set(approvals.map((a) => a.approver))],
              approvedAt: approvals.at(-1)?.decidedAt ?? new Date(Date.now()).toISOString(),
              ...(input.justification ? { justification: input.justification } : {}),
              approvalAuditSeq: seq,
              ...(until ? { until } : {}),
              revokeOnLeave: item.revokeOnLeave ?? false,
              ...(input.renewalOf ? { renewalOf: input.renewalOf } : {}),
              details: { approvals },
            }),
          (g) =>
            `${input.beneficiary} ${g.added ? 'added to' : 'was already a member of'} ${item.securityGroup}${until ? ` until ${until}` : ''}.`,
        ),
      );
      granted = item.securityGroup;
      if (r.supersededTimed) await endGrantTimer(r.supersededTimed, 'renewed');
      if (until) {
        await startChild(accessGrantTimer, {
          workflowId: grantTimerWorkflowId(requestId),
          // The grant outlives its request: the request is fulfilled, the timer runs to the end.
          parentClosePolicy: ParentClosePolicy.ABANDON,
          args: [
            {
              grantId: requestId,
              requestId,
              beneficiary: input.beneficiary,
              itemName: item.itemName,
              catalogItemId: input.catalogItemId,
              securityGroup: item.securityGroup,
              until,
              remindBefore: input.remindBefore ?? '1d',
            },
          ],
        });
      }
    } else if (patched('grant-with-its-audit')) {
      // A cancellation must not cut between the grant and its audit entry (the activity may
      // still add the member after the workflow stopped waiting for it): both happen, and the
      // cancellation, seen at the next step, revokes what was granted, audited.
      await CancellationScope.nonCancellable(grantAndAudit);
      granted = item.securityGroup;
    } else {
      await grantAndAudit();
    }
    if (approvalNotice) await approvalNotice;
    // The signed link is made where the notification is written, never in the history.
    const survey = patched('survey-link-at-delivery')
      ? SURVEY_LINK_REF
      : await acts.surveyLinkFor({ requestId, requester: input.requester });
    await tracker.step(
      'notify_requester',
      () =>
        notifyRequester(
          'fulfilled',
          `Access granted to ${item.itemName}`,
          `${input.beneficiary} can now use ${item.itemName} (group ${item.groupName}). Tell us how it went in a one-question survey.`,
          { ...(item.bookmarkUrl ? { bookmark: item.bookmarkUrl } : {}), survey },
        ),
      () => `Notified ${input.requester}.`,
    );
    return await tracker.finish('fulfilled', {
      message: `Access granted to ${item.itemName}.`,
      ...(item.bookmarkUrl ? { launchUrl: item.bookmarkUrl } : {}),
    });
  } catch (err) {
    if (!isCancellation(err)) throw err;
    return await CancellationScope.nonCancellable(async () => {
      tracker.admit();
      if (!granted)
        return tracker.finish('cancelled', {
          message: 'The request was cancelled before access was granted.',
        });
      const { removed } = await acts.revokeGroupMemberships({ requestId });
      await audit('access.revoked', {
        securityGroup: granted,
        user: input.beneficiary,
        removed,
        reason: 'cancelled',
      });
      return tracker.finish('cancelled', {
        message:
          removed > 0
            ? `The request was cancelled; the access it granted to ${granted} was revoked.`
            : `The request was cancelled; ${input.beneficiary} keeps ${granted} through another grant, so nothing was removed.`,
      });
    });
  }
}
