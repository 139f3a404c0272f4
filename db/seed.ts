import { enrollDevice, getDevice, issueEnrollment } from '../devices/index.js';
import { createDirectory } from '../directory/index.js';
import type { DB } from './client.js';
import * as t from './schema.js';

// The demo organisation and catalog. Inserts skip rows that already exist, so a second
// `npm start` keeps whatever the running system changed (seats, memberships...).
// People, roles and groups arrive through the directory, the path SCIM provisioning
// takes, so they are audited (actor `seed`) like any other directory change.
// `fulfillmentTarget` is the mean submit-to-fulfilled time an item aims for, which the
// monthly report compares with (metrics/report.ts).

const roles = [
  { id: 'engineer', name: 'Engineer' },
  { id: 'designer', name: 'Designer' },
  { id: 'engineering-manager', name: 'Engineering manager' },
  { id: 'finance-analyst', name: 'Finance analyst' },
  { id: 'service-desk', name: 'Service desk analyst' },
  { id: 'director', name: 'Director' },
  { id: 'operator', name: 'Operator' },
];

/** Managers come before the people who report to them: the directory checks a manager exists. */
const people = [
  { id: 'erin', name: 'Erin Evans', roleId: 'director', managerId: null },
  { id: 'bob', name: 'Bob Baker', roleId: 'engineering-manager', managerId: 'erin' },
  { id: 'carol', name: 'Carol Chen', roleId: 'finance-analyst', managerId: 'erin' },
  { id: 'dave', name: 'Dave Diaz', roleId: 'service-desk', managerId: 'erin' },
  { id: 'olga', name: 'Olga Olsen', roleId: 'operator', managerId: 'erin' },
  { id: 'alice', name: 'Alice Archer', roleId: 'engineer', managerId: 'bob' },
];

const groups = [
  { id: 'service-desk', name: 'Service Desk', kind: 'fulfillment' as const, members: ['dave'] },
  { id: 'procurement', name: 'Procurement', kind: 'fulfillment' as const, members: ['dave'] },
  { id: 'cab', name: 'Change Advisory Board', kind: 'cab' as const, members: ['erin'] },
  { id: 'operators', name: 'Operators', kind: 'operators' as const, members: ['olga'] },
  // Read-only access to the audit trail; empty in the seed, filled by the organisation.
  { id: 'auditors', name: 'Auditors', kind: 'auditors' as const, members: [] },
];

// Enrolled the way an organisation's devices are: an enrollment token for the owner, spent
// by the device. Their tokens are thrown away; the embedded stack gives LAPTOP-ALICE's agent
// a fresh one (ensureDeviceToken), and the other laptops have no agent.
const devices = [
  { deviceId: 'LAPTOP-ALICE', hostname: 'laptop-alice', ownerId: 'alice', platform: 'linux' },
  { deviceId: 'LAPTOP-BOB', hostname: 'laptop-bob', ownerId: 'bob', platform: 'linux' },
  { deviceId: 'LAPTOP-CAROL', hostname: 'laptop-carol', ownerId: 'carol', platform: 'linux' },
];

const licensePools = [
  { id: 'visio', product: 'Microsoft Visio', totalSeats: 3 },
  { id: 'photoshop', product: 'Adobe Photoshop', totalSeats: 2 },
];

const securityGroups = [
  { id: 'VPN-USERS', name: 'VPN users', description: 'May connect through the corporate VPN.' },
  {
    id: 'FIN-REPORTING-READERS',
    name: 'Financial Reporting System readers',
    description: 'Read access to the Financial Reporting System.',
  },
];

const services = [
  {
    id: 'expense-system',
    name: 'Expense system',
    aliases: 'expenses expense claims reimbursement',
    ownerId: 'carol',
  },
  {
    id: 'financial-reporting',
    sla: { request: '2d', humanStep: '1d', warnBefore: '4h' },
    name: 'Financial Reporting System',
    aliases: 'reporting fin reports',
    ownerId: 'erin',
  },
  { id: 'vpn', name: 'VPN', aliases: 'remote access globalprotect', ownerId: 'olga' },
  { id: 'email', name: 'Email and calendar', aliases: 'outlook mail calendar', ownerId: 'dave' },
];

const deviceField: t.FormField = { name: 'deviceId', label: 'Device', type: 'device', required: true };

const catalogItems: (typeof t.catalogItems.$inferInsert)[] = [
  {
    id: 'vpn-address',
    sla: { request: '4h', humanStep: '2h', warnBefore: '30m' },
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
    fulfillmentTarget: '1d',
  },
  {
    id: 'second-monitor',
    sla: { request: '5d', humanStep: '2d', warnBefore: '1d' },
    name: 'Second monitor',
    type: 'resource',
    description: 'A 27" monitor delivered to your desk and recorded as your asset.',
    unitCostCents: 24900,
    approvalPolicy: [{ kind: 'manager' }],
    fulfillmentGroupId: 'procurement',
  },
  {
    id: 'visio',
    sla: { request: '1h', warnBefore: '15m' },
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
    // Software distribution is run by the operators; the monthly report goes to olga.
    serviceOwnerId: 'olga',
    fulfillmentTarget: '1h',
  },
  {
    id: 'photoshop',
    sla: { request: '3d', humanStep: '1d', warnBefore: '4h' },
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
    serviceOwnerId: 'olga',
    fulfillmentTarget: '1d',
  },
  {
    id: 'laptop',
    name: 'Standard laptop',
    type: 'resource',
    description: 'A 14" business laptop, imaged and recorded as your asset.',
    unitCostCents: 149900,
    approvalPolicy: [{ kind: 'manager' }],
    fulfillmentGroupId: 'procurement',
    sla: { request: '7d', humanStep: '2d', warnBefore: '1d' },
    serviceOwnerId: 'dave',
    fulfillmentTarget: '5d',
  },
  {
    id: 'vpn-access',
    name: 'VPN access',
    type: 'access',
    description:
      'Connect to the corporate network from home (security group VPN-USERS). Granted without approval.',
    securityGroup: 'VPN-USERS',
    serviceOwnerId: 'olga',
    fulfillmentGroupId: 'service-desk',
    launchUrl: 'https://vpn.example.com',
  },
  {
    id: 'new-starter-kit',
    name: 'New starter kit',
    type: 'resource',
    description: 'Everything a new colleague needs on day one: a laptop, a second monitor and VPN access.',
    bundle: [
      { catalogItemId: 'laptop' },
      { catalogItemId: 'second-monitor' },
      { catalogItemId: 'vpn-access' },
    ],
    fulfillmentGroupId: 'procurement',
  },
  {
    id: 'feedback',
    sla: { request: '5d', humanStep: '2d', warnBefore: '1d' },
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

// Answers for `information` requests and the portal's search box. Tags are extra
// search words (synonyms people type) and weigh more than the body.
const knowledgeArticles: (typeof t.knowledgeArticles.$inferInsert)[] = [
  {
    id: 'KB-VPN-ADDRESS',
    title: 'VPN server address and how to connect',
    body:
      'The VPN server address is vpn.example.com. Connect with the GlobalProtect client, which is ' +
      'preinstalled on company laptops: open GlobalProtect, enter vpn.example.com as the portal, sign in ' +
      'with your company account and approve the MFA prompt in the Authenticator app. If GlobalProtect is ' +
      'missing, request it from the service catalog; if the MFA prompt never arrives, call the service desk.',
    tags: 'vpn remote access globalprotect portal gateway mfa home network',
  },
  {
    id: 'KB-PASSWORD-RESET',
    title: 'Reset a forgotten or expired password',
    body:
      'Go to https://password.example.com, enter your username and confirm with the MFA prompt, then choose ' +
      'a new password of at least 14 characters. Passwords expire every 180 days; you get a reminder e-mail ' +
      'two weeks before. After a reset, sign in again on your phone and laptop so the old password does not ' +
      'lock your account. Locked out after five attempts? The lock clears itself after 15 minutes.',
    tags: 'password reset forgot expired locked account login sign-in',
  },
  {
    id: 'KB-GUEST-WIFI',
    title: 'Wi-Fi for guests and visitors',
    body:
      'Visitors use the network "Example-Guest". Reception prints a voucher with a code valid for 24 hours; ' +
      'the guest joins Example-Guest and enters the code on the page that opens. The guest network reaches ' +
      'the internet only, not printers or internal systems. Employees use "Example-Corp", which signs in ' +
      'with the company certificate automatically.',
    tags: 'wifi wireless guest visitor voucher internet network',
  },
  {
    id: 'KB-PRINTER-SETUP',
    title: 'Add an office printer',
    body:
      'Printers are shared through the print server. On Windows open Settings, Printers & scanners, Add ' +
      'device, and pick the printer named after your floor (for example PRN-3F-EAST). On macOS use System ' +
      'Settings, Printers & Scanners. Print jobs are held until you tap your badge on the printer, so ' +
      'confidential pages never sit in the tray.',
    tags: 'printer print printing scanner badge follow-me',
  },
  {
    id: 'KB-OUTLOOK-MOBILE',
    title: 'Set up Outlook e-mail on your phone',
    body:
      'Install Microsoft Outlook from the App Store or Google Play, then install Company Portal and enroll ' +
      'the phone: company mail only opens in managed apps. Open Outlook, add your work e-mail address and ' +
      'approve the MFA prompt. The built-in Mail app on iOS and Android is blocked for company accounts.',
    tags: 'outlook email e-mail mail mobile phone iphone android calendar intune',
  },
  {
    id: 'KB-SHARED-DRIVE',
    title: 'Access a shared drive',
    body:
      'Department shares live on \\\\files.example.com. Access is granted through the security group of ' +
      'the share, so request it in the service catalog and name the folder; the owner of the share approves. ' +
      'Once granted, map the drive in File Explorer with Map network drive, or use Connect to Server on a ' +
      'Mac. From home, connect to the VPN first.',
    tags: 'shared drive share folder network files permissions mapped fileshare',
  },
  {
    id: 'KB-TEAMS-AUDIO',
    title: 'No sound or microphone in Microsoft Teams',
    body:
      'In Teams open Settings, Devices, and choose your headset for both speaker and microphone, then make a ' +
      'test call. On macOS also allow Teams under System Settings, Privacy & Security, Microphone. If others ' +
      'hear an echo, switch from the laptop speakers to a headset. Restarting Teams fixes most audio that ' +
      'stops after a docking station is unplugged.',
    tags: 'teams audio sound microphone mic speaker headset call meeting echo',
  },
  {
    id: 'KB-LAPTOP-BATTERY',
    title: 'Laptop battery drains quickly',
    body:
      'Check which apps use the most power (Windows: Settings, System, Power & battery; macOS: Activity ' +
      'Monitor, Energy). Lower the screen brightness and close browser tabs you do not need. A battery older ' +
      'than three years or with a health below 80% is replaced free of charge: request a replacement ' +
      'through the service desk and keep working on the charger meanwhile.',
    tags: 'laptop battery power charging charger drain health replacement',
  },
  {
    id: 'KB-EXPENSE-SYSTEM',
    title: 'Submit an expense claim in the new expense system',
    body:
      'Open https://expenses.example.com and choose New report. Photograph each receipt with the mobile ' +
      'app or upload a PDF, pick the category and the cost center, then Submit: your manager approves and ' +
      'finance pays within ten working days. Drafts are saved automatically. Finding the new expense system ' +
      'confusing? Send feedback about it from the service catalog; the service owner reads every message.',
    tags: 'expense expenses claim receipt reimbursement travel finance report',
  },
  {
    id: 'KB-SOFTWARE-REQUEST',
    title: 'Request software for your laptop',
    body:
      'Open the service catalog and pick the application. Pre-approved software such as Microsoft Visio is ' +
      'installed automatically on your laptop the next time it connects, usually within minutes. Other ' +
      'software goes to the Change Advisory Board first. You get an e-mail with a launch link when it is ready.',
    tags: 'software install application app license catalog visio photoshop',
  },
  {
    id: 'KB-MFA-NEW-PHONE',
    title: 'Move MFA to a new phone',
    body:
      'Before you wipe the old phone, sign in to https://mysignins.example.com, add the new phone under ' +
      'Security info and approve a test prompt on it; then delete the old entry. Lost the old phone already? ' +
      'The service desk verifies your identity and issues a temporary access pass.',
    tags: 'mfa authenticator two-factor 2fa phone new lost token',
  },
];

const SEED_ACTOR = 'seed';

/** The demo organisation and the catalog; safe to run at every start. */
export async function seed(db: DB): Promise<void> {
  const directory = createDirectory({ db });
  for (const role of roles) await directory.ensureRole(role, SEED_ACTOR);
  // The userName is the id, as for people who existed before the directory had userNames.
  for (const p of people) {
    await directory.ensureUser(
      {
        userName: p.id,
        displayName: p.name,
        email: `${p.id}@example.com`,
        roleHints: [p.roleId],
        managerId: p.managerId,
      },
      SEED_ACTOR,
    );
  }
  for (const g of groups) await directory.ensureGroup(g, SEED_ACTOR);
  for (const { ownerId, ...device } of devices) {
    if (await getDevice(db, device.deviceId)) continue;
    const { token } = await issueEnrollment(db, { ownerId, createdBy: SEED_ACTOR });
    await enrollDevice(db, token, device);
  }

  db.transaction((tx) => {
    tx.insert(t.licensePools).values(licensePools).onConflictDoNothing().run();
    tx.insert(t.securityGroups).values(securityGroups).onConflictDoNothing().run();
    tx.insert(t.services).values(services).onConflictDoNothing().run();
    tx.insert(t.catalogItems).values(catalogItems).onConflictDoNothing().run();
    tx.insert(t.knowledgeArticles).values(knowledgeArticles).onConflictDoNothing().run();
  });
}
