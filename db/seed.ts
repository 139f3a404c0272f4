import type { DB } from './client.js';
import * as t from './schema.js';

// The seed of DESIGN.md §2. Inserts skip rows that already exist, so a second
// `npm start` keeps whatever the running system changed (seats, memberships...).

const roles = [
  { id: 'engineer', name: 'Engineer' },
  { id: 'designer', name: 'Designer' },
  { id: 'engineering-manager', name: 'Engineering manager' },
  { id: 'finance-analyst', name: 'Finance analyst' },
  { id: 'service-desk', name: 'Service desk analyst' },
  { id: 'director', name: 'Director' },
  { id: 'operator', name: 'Operator' },
];

const users = [
  { id: 'alice', name: 'Alice Archer', roleId: 'engineer', managerId: 'bob' },
  { id: 'bob', name: 'Bob Baker', roleId: 'engineering-manager', managerId: 'erin' },
  { id: 'carol', name: 'Carol Chen', roleId: 'finance-analyst', managerId: 'erin' },
  { id: 'dave', name: 'Dave Diaz', roleId: 'service-desk', managerId: 'erin' },
  { id: 'erin', name: 'Erin Evans', roleId: 'director', managerId: null },
  { id: 'olga', name: 'Olga Olsen', roleId: 'operator', managerId: 'erin' },
].map((u) => ({ ...u, email: `${u.id}@example.com` }));

const groups = [
  { id: 'service-desk', name: 'Service Desk', kind: 'fulfillment' as const },
  { id: 'procurement', name: 'Procurement', kind: 'fulfillment' as const },
  { id: 'cab', name: 'Change Advisory Board', kind: 'cab' as const },
  { id: 'operators', name: 'Operators', kind: 'operators' as const },
  // Read-only access to the audit trail; empty in the seed, filled by the organisation.
  { id: 'auditors', name: 'Auditors', kind: 'auditors' as const },
];

const groupMembers = [
  { groupId: 'service-desk', userId: 'dave' },
  { groupId: 'procurement', userId: 'dave' },
  { groupId: 'cab', userId: 'erin' },
  { groupId: 'operators', userId: 'olga' },
];

const devices = [
  { id: 'LAPTOP-ALICE', name: "Alice's laptop", ownerId: 'alice', platform: 'linux' },
  { id: 'LAPTOP-BOB', name: "Bob's laptop", ownerId: 'bob', platform: 'linux' },
  { id: 'LAPTOP-CAROL', name: "Carol's laptop", ownerId: 'carol', platform: 'linux' },
];

const licensePools = [
  { id: 'visio', product: 'Microsoft Visio', totalSeats: 3 },
  { id: 'photoshop', product: 'Adobe Photoshop', totalSeats: 2 },
];

const securityGroups = [
  {
    id: 'FIN-REPORTING-READERS',
    name: 'Financial Reporting System readers',
    description: 'Read access to the Financial Reporting System.',
  },
];

const deviceField: t.FormField = { name: 'deviceId', label: 'Device', type: 'device', required: true };

const catalogItems: (typeof t.catalogItems.$inferInsert)[] = [
  {
    id: 'vpn-address',
    name: "What's the VPN server address?",
    type: 'information',
    description: 'Answers from the knowledge base; a service-desk analyst answers when no article fits.',
    fulfillmentGroupId: 'service-desk',
    formFields: [{ name: 'question', label: 'Your question', type: 'textarea', required: false }],
  },
  {
    id: 'financial-reporting',
    name: 'Financial Reporting System',
    type: 'access',
    description: 'Read access to the Financial Reporting System (security group FIN-REPORTING-READERS).',
    sensitivity: 'sensitive',
    securityGroup: 'FIN-REPORTING-READERS',
    serviceOwnerId: 'erin',
    approvalPolicy: [{ kind: 'manager' }],
    fulfillmentGroupId: 'service-desk',
  },
  {
    id: 'second-monitor',
    name: 'Second monitor',
    type: 'resource',
    description: 'A 27" monitor delivered to your desk and recorded as your asset.',
    approvalPolicy: [{ kind: 'manager' }],
    fulfillmentGroupId: 'procurement',
  },
  {
    id: 'visio',
    name: 'Microsoft Visio',
    type: 'standard_service',
    description:
      'Diagramming software, installed on your device automatically (pre-approved Standard Change).',
    changeModel: 'standard',
    packageId: 'visio',
    licensePoolId: 'visio',
    allowedRoles: ['engineer', 'designer'],
    fulfillmentGroupId: 'service-desk',
    launchUrl: 'https://apps.example.com/launch/visio',
    formFields: [deviceField],
  },
  {
    id: 'photoshop',
    name: 'Adobe Photoshop',
    type: 'standard_service',
    description: 'Image editing software. Not pre-approved: a Normal Change decided by the CAB.',
    changeModel: 'normal',
    approvalPolicy: [{ kind: 'group', groupId: 'cab', quorum: 'any' }],
    packageId: 'photoshop',
    licensePoolId: 'photoshop',
    allowedRoles: ['designer', 'engineer'],
    fulfillmentGroupId: 'service-desk',
    launchUrl: 'https://apps.example.com/launch/photoshop',
    formFields: [deviceField],
  },
  {
    id: 'feedback',
    name: 'Feedback about a service',
    type: 'feedback',
    description:
      'Tell a service owner what works and what does not (e.g. "The new expense system is confusing").',
    fulfillmentGroupId: 'service-desk',
    formFields: [
      { name: 'service', label: 'Service', type: 'text', required: true },
      { name: 'message', label: 'Your feedback', type: 'textarea', required: true },
    ],
  },
];

export function seed(db: DB): void {
  db.transaction((tx) => {
    tx.insert(t.roles).values(roles).onConflictDoNothing().run();
    tx.insert(t.users).values(users).onConflictDoNothing().run();
    tx.insert(t.groups).values(groups).onConflictDoNothing().run();
    tx.insert(t.groupMembers).values(groupMembers).onConflictDoNothing().run();
    tx.insert(t.devices).values(devices).onConflictDoNothing().run();
    tx.insert(t.licensePools).values(licensePools).onConflictDoNothing().run();
    tx.insert(t.securityGroups).values(securityGroups).onConflictDoNothing().run();
    tx.insert(t.catalogItems).values(catalogItems).onConflictDoNothing().run();
    // Every device is a configuration item too, so software can be related to it.
    tx.insert(t.cmdbCis)
      .values(
        devices.map((d) => ({
          id: d.id,
          ciClass: 'computer' as const,
          name: d.name,
          attributes: { owner: d.ownerId, platform: d.platform },
        })),
      )
      .onConflictDoNothing()
      .run();
  });
}
