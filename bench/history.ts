/**
 * What a workflow's history holds, read from the server: the steps a baseline must repeat
 * (activities, local activities) and what it costs to store (events, bytes).
 */
import type { Client } from '@temporalio/client';
// Default import: the package is CommonJS, and Node's ESM loader cannot see its named exports.
import proto from '@temporalio/proto';

const EventType = proto.temporal.api.enums.v1.EventType;

export interface Shape {
  activities: number;
  localActivities: number;
}

export interface HistoryCost extends Shape {
  events: number;
  bytes: number;
}

type Event = proto.temporal.api.history.v1.IHistoryEvent;

function shapeOf(events: Event[]): Shape {
  let activities = 0;
  let localActivities = 0;
  for (const e of events) {
    if (e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED) activities++;
    // The SDK records each completed local activity as a marker of this name.
    if (
      e.eventType === EventType.EVENT_TYPE_MARKER_RECORDED &&
      e.markerRecordedEventAttributes?.markerName === 'core_local_activity'
    ) {
      localActivities++;
    }
  }
  return { activities, localActivities };
}

async function eventsOf(temporal: Client, workflowId: string): Promise<Event[]> {
  const history = await temporal.workflow.getHandle(workflowId).fetchHistory();
  return history.events ?? [];
}

/** Events and bytes of the history so far (the server's own count), and its steps. */
export async function historyCost(temporal: Client, workflowId: string): Promise<HistoryCost> {
  const events = await eventsOf(temporal, workflowId);
  const encoded = proto.temporal.api.history.v1.History.encode({ events }).finish().length;
  const described = await temporal.workflow.getHandle(workflowId).describe();
  return {
    ...shapeOf(events),
    events: events.length,
    // The server's figure where it gives one (what its size limits count), else the encoding's.
    bytes: described.historySize ?? encoded,
  };
}

/**
 * The steps after the last message the workflow accepted (an update or a signal): for an
 * approved request, what runs between the decision and the end.
 */
export async function shapeAfterLastMessage(temporal: Client, workflowId: string): Promise<Shape> {
  const events = await eventsOf(temporal, workflowId);
  const messages = new Set<number>([
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED,
  ]);
  let last = -1;
  events.forEach((e, i) => {
    if (e.eventType != null && messages.has(e.eventType)) last = i;
  });
  return shapeOf(events.slice(last + 1));
}
